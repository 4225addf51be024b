"""Family detection from a checkpoint folder's own files (``model.path`` without ``model.family``).

The folders are written in each family's published layout: ``config.json`` with the key set of the hub file
(``auto_map``, ``architectures``, ``model_type`` or its absence, distinguishing keys), values shrunk to the tiny
shape so real weights (from a tiny model) load. Key sets follow MODELS.md and the hub repos' config.json files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from genomefactory.errors import UserError
from genomefactory.models.config import ModelConfig
from genomefactory.models.detect import FamilyDetectionError, checked_family, detect_family
from genomefactory.models.loading import load_backbone
from genomefactory.models.registry import all_families, get_family

torch.set_num_threads(1)

_CADUCEUS_MAP = {
    "AutoConfig": "configuration_caduceus.CaduceusConfig",
    "AutoModel": "modeling_caduceus.Caduceus",
    "AutoModelForMaskedLM": "modeling_caduceus.CaduceusForMaskedLM",
    "AutoModelForSequenceClassification": "modeling_caduceus.CaduceusForSequenceClassification",
}
# published config.json key sets (values are the full-size ones; the tests overwrite shape keys with tiny values)
PUBLISHED: dict[str, dict[str, Any]] = {
    "hyenadna": {
        "_name_or_path": "LongSafari/hyenadna-tiny-1k-seqlen-hf",
        "activation_freq": 10,
        "architectures": ["HyenaDNAForCausalLM"],
        "auto_map": {
            "AutoConfig": "configuration_hyena.HyenaConfig",
            "AutoModel": "modeling_hyena.HyenaDNAModel",
            "AutoModelForCausalLM": "modeling_hyena.HyenaDNAForCausalLM",
            "AutoModelForSequenceClassification": "modeling_hyena.HyenaDNAForSequenceClassification",
        },
        "d_inner": 512,
        "d_model": 128,
        "emb_dim": 5,
        "embed_dropout": 0.1,
        "filter_order": 64,
        "hyena_dropout": 0.0,
        "hyena_filter_dropout": 0.0,
        "hyena_order": 2,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "max_seq_len": 1026,
        "model_type": "hyenadna",
        "n_layer": 2,
        "num_inner_mlps": 2,
        "pad_vocab_size_multiple": 8,
        "short_filter_order": 3,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "train_freq": True,
        "transformers_version": "4.26.1",
        "use_bias": True,
        "vocab_size": 12,
    },
    # the current hub file: no model_type, no architectures, classes only through auto_map (MODELS.md §2.2)
    "dnabert2": {
        "_name_or_path": "zhihan1996/DNABERT-2-117M",
        "alibi_starting_size": 512,
        "attention_probs_dropout_prob": 0.0,
        "auto_map": {
            "AutoConfig": "configuration_bert.BertConfig",
            "AutoModel": "bert_layers.BertModel",
            "AutoModelForMaskedLM": "bert_layers.BertForMaskedLM",
            "AutoModelForSequenceClassification": "bert_layers.BertForSequenceClassification",
        },
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 768,
        "initializer_range": 0.02,
        "intermediate_size": 3072,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "num_attention_heads": 12,
        "num_hidden_layers": 12,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "transformers_version": "4.28.0",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": 4096,
    },
    "caduceus": {
        "_name_or_path": "kuleshov-group/caduceus-ps_seqlen-131k_d_model-256_n_layer-16",
        "architectures": ["CaduceusForMaskedLM"],
        "auto_map": _CADUCEUS_MAP,
        "bidirectional": True,
        "bidirectional_strategy": "add",
        "bidirectional_weight_tie": True,
        "complement_map": {str(i): i for i in range(16)} | {"7": 10, "8": 9, "9": 8, "10": 7},
        "d_model": 256,
        "fused_add_norm": True,
        "initializer_cfg": {
            "initializer_range": 0.02,
            "n_residuals_per_layer": 1,
            "rescale_prenorm_residual": True,
        },
        "model_type": "caduceus",
        "n_layer": 16,
        "norm_epsilon": 1e-05,
        "pad_vocab_size_multiple": 8,
        "rcps": True,
        "residual_in_fp32": False,
        "rms_norm": True,
        "ssm_cfg": {
            "d_state": 16,
            "d_conv": 4,
            "expand": 2,
            "dt_rank": "auto",
            "dt_min": 0.001,
            "dt_max": 0.1,
            "dt_init": "random",
            "dt_scale": 1.0,
            "dt_init_floor": 0.0001,
            "conv_bias": True,
            "bias": False,
            "use_fast_path": True,
        },
        "torch_dtype": "float32",
        "transformers_version": "4.38.1",
        "vocab_size": 16,
    },
    "nucleotide_transformer": {
        "_name_or_path": "InstaDeepAI/nucleotide-transformer-500m-human-ref",
        "architectures": ["EsmForMaskedLM"],
        "attention_probs_dropout_prob": 0.0,
        "emb_layer_norm_before": False,
        "esmfold_config": None,
        "hidden_dropout_prob": 0.0,
        "hidden_size": 1280,
        "initializer_range": 0.02,
        "intermediate_size": 5120,
        "is_folding_model": False,
        "layer_norm_eps": 1e-12,
        "mask_token_id": 2,
        "max_position_embeddings": 1002,
        "model_type": "esm",
        "num_attention_heads": 20,
        "num_hidden_layers": 24,
        "pad_token_id": 1,
        "position_embedding_type": "absolute",
        "tie_word_embeddings": False,
        "token_dropout": False,
        "torch_dtype": "float32",
        "transformers_version": "4.24.0",
        "use_cache": False,
        "vocab_list": None,
        "vocab_size": 4105,
    },
    # v2 is ESM too: told apart by its bias-free SwiGLU flag and the remote-code classes of its auto_map
    "nucleotide_transformer_v2": {
        "_name_or_path": "InstaDeepAI/nucleotide-transformer-v2-50m-multi-species",
        "add_bias_fnn": False,
        "architectures": ["EsmForMaskedLM"],
        "attention_probs_dropout_prob": 0.0,
        "auto_map": {
            "AutoConfig": "esm_config.EsmConfig",
            "AutoModelForMaskedLM": "modeling_esm.EsmForMaskedLM",
            "AutoModelForSequenceClassification": "modeling_esm.EsmForSequenceClassification",
            "AutoModelForTokenClassification": "modeling_esm.EsmForTokenClassification",
        },
        "emb_layer_norm_before": False,
        "esmfold_config": None,
        "hidden_dropout_prob": 0.0,
        "hidden_size": 512,
        "initializer_range": 0.02,
        "intermediate_size": 2048,
        "is_folding_model": False,
        "layer_norm_eps": 1e-12,
        "mask_token_id": 2,
        "max_position_embeddings": 2050,
        "model_type": "esm",
        "num_attention_heads": 16,
        "num_hidden_layers": 12,
        "pad_token_id": 1,
        "position_embedding_type": "rotary",
        "tie_word_embeddings": False,
        "token_dropout": False,
        "torch_dtype": "float32",
        "transformers_version": "4.32.0.dev0",
        "use_cache": False,
        "vocab_list": None,
        "vocab_size": 4107,
    },
    # StripedHyena remote code; the tokenizer entry of auto_map is a [slow, fast] pair
    "evo": {
        "_name_or_path": "togethercomputer/evo-1-8k-base",
        "architectures": ["StripedHyenaModelForCausalLM"],
        "attn_layer_idxs": [8, 16, 24],
        "auto_map": {
            "AutoConfig": "configuration_hyena.StripedHyenaConfig",
            "AutoModelForCausalLM": "modeling_hyena.StripedHyenaModelForCausalLM",
            "AutoTokenizer": ["tokenizer.ByteTokenizer", None],
        },
        "column_split": False,
        "column_split_hyena": True,
        "eps": 1e-06,
        "final_norm": True,
        "hidden_size": 4096,
        "hyena_filter_groups": 1,
        "hyena_layer_idxs": [i for i in range(32) if i not in (8, 16, 24)],
        "inference_mode": False,
        "inner_mlp_size": None,
        "inner_size_multiple_of": 16,
        "log_intermediate_values": False,
        "make_vocab_size_divisible_by": 8,
        "max_seqlen": 8192,
        "mha_out_proj_bias": True,
        "mlp_activation": "gelu",
        "model_parallel_size": 1,
        "model_type": "stripedhyena",
        "num_attention_heads": 32,
        "num_filters": 4096,
        "num_layers": 32,
        "pipe_parallel_size": 1,
        "prefill_style": "fft",
        "proj_groups": 1,
        "qkv_proj_bias": True,
        "rotary_emb_base": 10000,
        "short_filter_bias": True,
        "short_filter_length": 3,
        "smeared_gqa": False,
        "split_k0": True,
        "state_size": 8,
        "tie_embeddings": True,
        "torch_dtype": "bfloat16",
        "use_cache": True,
        "use_flash_attention_2": True,
        "use_flash_depthwise": False,
        "use_flash_rmsnorm": False,
        "use_flashfft": False,
        "use_interpolated_rotary_pos_emb": False,
        "vocab_size": 512,
    },
    # plain Mistral since the vendored modeling code and auto_map were removed (MODELS.md §2.6)
    "genomeocean": {
        "architectures": ["MistralForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "head_dim": 96,
        "hidden_act": "silu",
        "hidden_size": 768,
        "initializer_range": 0.02,
        "intermediate_size": 3072,
        "max_position_embeddings": 1024,
        "model_type": "mistral",
        "num_attention_heads": 8,
        "num_hidden_layers": 12,
        "num_key_value_heads": 8,
        "rms_norm_eps": 1e-05,
        "rope_theta": 10000.0,
        "sliding_window": None,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.44.2",
        "use_cache": True,
        "vocab_size": 4096,
    },
}
NATIVE = sorted(PUBLISHED)


def _write_config(directory: Path, config: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def _published_tiny(tmp_path: Path, family: str) -> tuple[Path, dict[str, torch.Tensor]]:
    """A tiny model saved by the family, then its config.json replaced by the published key set (tiny values)."""
    fam = get_family(family)
    tiny = fam.tiny_config()
    torch.manual_seed(0)
    model = fam.build(tiny)
    directory = tmp_path / family
    fam.save(model, tiny, directory)
    fam.tokenizer(None, tiny).save_pretrained(str(directory))
    published = {k: tiny.get(k, v) for k, v in PUBLISHED[family].items()}
    (directory / "config.json").write_text(json.dumps(published))
    return directory, {k: v.clone() for k, v in model.state_dict().items()}


def test_every_native_family_has_a_published_layout_here() -> None:
    """A new family must add its published config.json key set above (hf_auto claims nothing by design)."""
    assert sorted(f.name for f in all_families() if not f.supports_remote_code) == NATIVE


@pytest.mark.parametrize("family", NATIVE)
def test_published_config_json_is_detected(tmp_path: Path, family: str) -> None:
    directory = _write_config(tmp_path / family, PUBLISHED[family])
    assert detect_family(directory).name == family


@pytest.mark.parametrize("family", NATIVE)
def test_published_layout_loads_without_model_family(tmp_path: Path, family: str) -> None:
    directory, want = _published_tiny(tmp_path, family)
    cfg = ModelConfig(path=str(directory))
    assert cfg.family is None
    backbone = load_backbone(cfg)
    assert backbone.family.name == family and backbone.source == str(directory)
    got = backbone.model.state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], v) for k, v in want.items())


@pytest.mark.parametrize("family", [f.name for f in all_families()])
def test_own_saves_are_detected(tmp_path: Path, family: str) -> None:
    """What ``ModelFamily.save`` writes (the tiny config as config.json) is recognised as the same family."""
    fam = get_family(family)
    directory = _write_config(tmp_path / family, fam.tiny_config())
    if fam.supports_remote_code:  # hf_auto: a generic transformers checkpoint claims no family
        with pytest.raises(FamilyDetectionError, match=r"cannot tell .* or hf_auto"):
            detect_family(directory)
    else:
        assert detect_family(directory) is fam


def test_first_dnabert2_upload_with_model_type_bert_is_dnabert2(tmp_path: Path) -> None:
    directory = _write_config(tmp_path / "d", {**PUBLISHED["dnabert2"], "model_type": "bert"})
    assert detect_family(directory).name == "dnabert2"


def test_unclaimed_folder_is_one_line_listing_the_families_and_hf_auto(tmp_path: Path) -> None:
    # a protein ESM-2: rotary ESM with biased GELU FFN and 33 tokens is neither NT v1 nor v2
    esm2 = {"model_type": "esm", "architectures": ["EsmForMaskedLM"], "position_embedding_type": "rotary"}
    directory = _write_config(tmp_path / "esm2", {**esm2, "vocab_size": 33})
    with pytest.raises(FamilyDetectionError) as err:
        detect_family(directory)
    msg = str(err.value)
    assert "\n" not in msg and str(directory) in msg and "model_type 'esm'" in msg
    assert all(name in msg for name in NATIVE) and msg.endswith(
        "or hf_auto for any other transformers checkpoint"
    )
    assert isinstance(err.value, UserError)
    with pytest.raises(FamilyDetectionError, match="cannot tell"):
        load_backbone(ModelConfig(path=str(directory)))


def test_explicit_family_contradicting_the_folder_names_both(tmp_path: Path) -> None:
    directory = _write_config(tmp_path / "hyena", PUBLISHED["hyenadna"])
    with pytest.raises(FamilyDetectionError) as err:
        load_backbone(ModelConfig(family="dnabert2", path=str(directory)))
    msg = str(err.value)
    assert "'dnabert2'" in msg and "hyenadna checkpoint" in msg and "\n" not in msg
    # NT v1 and v2 are both model_type esm: a v1 folder is not accepted as v2
    v1 = _write_config(tmp_path / "v1", PUBLISHED["nucleotide_transformer"])
    with pytest.raises(
        FamilyDetectionError, match=r"'nucleotide_transformer_v2' but .* nucleotide_transformer "
    ):
        checked_family(v1, "nt_v2")
    assert checked_family(v1, "nt").name == "nucleotide_transformer"  # an alias of the right family


def test_hf_auto_on_a_natively_implemented_remote_code_folder_points_to_the_family(tmp_path: Path) -> None:
    directory = _write_config(tmp_path / "cad", PUBLISHED["caduceus"])
    with pytest.raises(
        FamilyDetectionError, match=r"caduceus checkpoint .*set model.family: caduceus"
    ) as err:
        load_backbone(ModelConfig(family="hf_auto", path=str(directory)))
    assert "trust_remote_code" not in str(err.value)
    # ... unless the user allows the downloaded code; and transformers-native checkpoints stay hf_auto's
    assert checked_family(directory, "hf_auto", trust_remote_code=True).name == "hf_auto"
    v1 = _write_config(tmp_path / "v1", PUBLISHED["nucleotide_transformer"])
    assert checked_family(v1, "hf_auto").name == "hf_auto"


def test_run_directory_is_detected_from_its_model_description(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "genomefactory_model.json").write_text(json.dumps({"format": 1, "family": "evo"}))
    assert detect_family(run).name == "evo" and detect_family(run / "model").name == "evo"
    with pytest.raises(FamilyDetectionError, match=r"'hyenadna' but .* evo checkpoint \(genomefactory run\)"):
        checked_family(run, "hyenadna")
    with pytest.raises(UserError, match="genomefactory training run"):
        load_backbone(ModelConfig(path=str(run)))


def test_folder_without_config_json(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        detect_family(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        load_backbone(ModelConfig(path=str(tmp_path)))
