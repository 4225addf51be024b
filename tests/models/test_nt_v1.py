"""Nucleotide Transformer v1 on the native ESM module: transformers' own ``EsmForMaskedLM`` (built from the same
tiny config, weights copied strictly) is the reference for logits, hidden states and ESM's absolute position ids;
the packed path equals the padded one; published key names, parameter counts and checkpoint loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import EsmConfig
from transformers import EsmForMaskedLM as HfEsmForMaskedLM

from genomefactory.models import ModelConfig, get_family, load_backbone
from genomefactory.models.layers.esm import EsmForMaskedLM, esm_position_ids
from genomefactory.models.layers.varlen import set_attention_path

FAM = get_family("nucleotide_transformer")
LENGTHS = [37, 5, 50, 1, 23]


def _hf_reference(seed: int = 0) -> tuple[HfEsmForMaskedLM, dict]:
    """transformers' native Esm from the tiny v1 config, with every parameter perturbed (LayerNorms, biases,
    the LM-head bias and the pad row of the position table are not at their init values)."""
    cfg = FAM.tiny_config()
    hf_cfg = EsmConfig(**cfg)
    hf_cfg._attn_implementation = "eager"  # the plain-math path, independent of our SDPA call
    torch.manual_seed(seed)
    hf = HfEsmForMaskedLM(hf_cfg).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return hf, cfg


def _ours_from(hf: HfEsmForMaskedLM, cfg: dict) -> torch.nn.Module:
    ours = FAM.build(cfg).eval()
    ours.load_state_dict(hf.state_dict(), strict=True)
    return ours


def _batch(lengths: list[int], width: int, vocab: int = 4100) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded: real ids (never the pad id 1) then pad id 1 under mask 0, as the tokenizer pads."""
    g = torch.Generator().manual_seed(5)
    ids = torch.randint(2, vocab, (len(lengths), width), generator=g)
    mask = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).long()
    return ids.masked_fill(mask == 0, 1), mask


def test_strict_copy_from_transformers_equals_its_logits_and_hidden_states() -> None:
    hf, cfg = _hf_reference()
    ours = _ours_from(hf, cfg)
    ids, mask = _batch(LENGTHS, 56)
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        out = ours(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    real = mask.bool()
    torch.testing.assert_close(out.logits[real], ref.logits[real], atol=1e-5, rtol=1e-5)
    assert len(out.hidden_states) == len(ref.hidden_states) == cfg["num_hidden_layers"] + 1
    for a, b in zip(out.hidden_states, ref.hidden_states, strict=True):
        torch.testing.assert_close(a[real], b[real], atol=1e-5, rtol=1e-5)
    # the headless encoder the trainer uses gives the same final states
    base = FAM.encode(FAM.base(ours), ids, mask).last_hidden_state
    torch.testing.assert_close(base[real], ref.hidden_states[-1][real], atol=1e-5, rtol=1e-5)


def test_position_ids_follow_esm_convention() -> None:
    ids, _ = _batch([4, 2, 6], 6)
    ids[0, 2] = 1  # a pad id inside a row keeps the pad position and does not advance the count
    pos = esm_position_ids(ids, 1)
    assert pos.tolist() == [[2, 3, 1, 4, 1, 1], [2, 3, 1, 1, 1, 1], [2, 3, 4, 5, 6, 7]]
    from transformers.models.esm.modeling_esm import create_position_ids_from_input_ids

    assert torch.equal(pos, create_position_ids_from_input_ids(ids, 1))


def test_position_table_is_read_and_overflow_is_a_clear_error() -> None:
    cfg = FAM.tiny_config()
    model = FAM.build(cfg).eval()
    assert isinstance(model, EsmForMaskedLM)
    ids, mask = _batch([8], 8)
    emb = model.esm.embeddings
    with torch.no_grad():
        a = emb(ids, mask)
        emb.position_embeddings.weight[5].add_(1.0)  # position id 5 = the 4th real token
        b = emb(ids, mask)
    moved = (b - a).abs().amax(-1)[0]
    assert moved[3] == 1.0 and moved[torch.arange(8) != 3].max() == 0
    too_long = torch.full((1, cfg["max_position_embeddings"] - 1), 7)
    with pytest.raises(ValueError, match="max_position_embeddings=258"):
        model(input_ids=too_long)
    assert FAM.max_tokens(cfg) == 256
    model(input_ids=too_long[:, :256])  # the longest input the table holds


@pytest.mark.parametrize("train", [False, True])
def test_packed_equals_padded(train: bool) -> None:
    hf, cfg = _hf_reference(seed=1)
    ours = _ours_from(hf, cfg)
    base = FAM.base(ours).train(train)  # dropout is 0 in the tiny config: train mode only changes bookkeeping
    ids, mask = _batch(LENGTHS, 56)
    outs = []
    for path in ("padded", "packed"):
        assert set_attention_path(base, path) == 1
        base.zero_grad()
        out = base(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        (out.last_hidden_state * mask[..., None]).pow(2).sum().backward()
        grads = {n: p.grad.clone() for n, p in base.named_parameters() if p.grad is not None}
        outs.append((out, grads))
    real = mask.bool()
    (padded, g_pad), (packed, g_pack) = outs
    for a, b in zip(padded.hidden_states, packed.hidden_states, strict=True):
        torch.testing.assert_close(b[real], a[real], atol=1e-4, rtol=1e-4)
        assert b[~real].abs().max() == 0
    assert g_pad.keys() == g_pack.keys() and "embeddings.position_embeddings.weight" in g_pad
    for name in g_pad:
        torch.testing.assert_close(g_pack[name], g_pad[name], atol=1e-4, rtol=1e-4, msg=name)
    # positions are per sequence: sequence 1 alone (no padding) gives its rows of the packed batch
    with torch.no_grad():
        alone = base(input_ids=ids[1:2, :5], attention_mask=mask[1:2, :5]).last_hidden_state
    torch.testing.assert_close(packed.last_hidden_state[1, :5], alone[0], atol=1e-4, rtol=1e-4)


def test_attention_path_from_model_config() -> None:
    bb = load_backbone(ModelConfig(family="nucleotide_transformer", init="tiny", attention_path="packed"))
    assert FAM.base(bb.model).attn_path == "packed"


# published totals (the same counts transformers' EsmForMaskedLM gives for these configs)
@pytest.mark.parametrize(
    ("variant", "count"), [("500m-human-ref", 485_699_306), ("2.5b-multi-species", 2_547_801_866)]
)
def test_full_size_keys_and_parameter_count(variant: str, count: int) -> None:
    cfg = FAM.published_config(variant)
    with torch.device("meta"):
        ours = FAM.build(cfg)
        hf_cfg = EsmConfig(**cfg)
        hf_cfg.num_hidden_layers = (
            2  # key names and shapes per layer are what matter; keep the reference small
        )
        hf = HfEsmForMaskedLM(hf_cfg)
    assert sum(p.numel() for p in ours.parameters()) == count
    own = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    ref = {k: tuple(v.shape) for k, v in hf.state_dict().items()}
    layers = cfg["num_hidden_layers"]
    ref["esm.contact_head.regression.weight"] = (1, layers * cfg["num_attention_heads"])
    assert {k for k in own if ".layer." not in k} == {k for k in ref if ".layer." not in k}
    for k, shape in ref.items():
        assert own[k.replace(".layer.1.", f".layer.{layers - 1}.")] == shape, k
    assert len(own) == len(ref) + 16 * (layers - 2)  # 16 tensors per layer, no rotary buffers
    assert own["esm.encoder.layer.0.intermediate.dense.bias"] == (cfg["intermediate_size"],)


def _write_checkpoint(directory: Path, hf: HfEsmForMaskedLM, cfg: dict, legacy: bool) -> None:
    state = {k: v.clone() for k, v in hf.state_dict().items()}
    if legacy:  # LayerNorm gamma/beta names and the position_ids buffer older transformers saved
        state = {
            (
                k[: -len("weight")] + "gamma"
                if k.endswith("LayerNorm.weight")
                else k[: -len("bias")] + "beta"
                if k.endswith("LayerNorm.bias")
                else k
            ): v
            for k, v in state.items()
        }
        state["esm.embeddings.position_ids"] = torch.arange(cfg["max_position_embeddings"])[None]
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(state, directory / "pytorch_model.bin")
    (directory / "config.json").write_text(json.dumps({**cfg, "architectures": ["EsmForMaskedLM"]}))


@pytest.mark.parametrize("legacy", [False, True])
def test_load_published_layout_strict(tmp_path: Path, legacy: bool) -> None:
    hf, cfg = _hf_reference(seed=2)
    _write_checkpoint(tmp_path / "ckpt", hf, cfg, legacy)
    bb = load_backbone(ModelConfig(family="nt", path=str(tmp_path / "ckpt")))
    ref = hf.state_dict()
    assert bb.model.state_dict().keys() == ref.keys()
    assert all(torch.equal(bb.model.state_dict()[k], v) for k, v in ref.items())
    ids, mask = _batch([9, 4], 9)
    with torch.no_grad():
        got = bb.model(input_ids=ids, attention_mask=mask).logits
        want = hf(input_ids=ids, attention_mask=mask).logits
    torch.testing.assert_close(got[mask.bool()], want[mask.bool()], atol=1e-5, rtol=1e-5)


def test_load_rejects_v2_layout_and_config(tmp_path: Path) -> None:
    hf, cfg = _hf_reference()
    _write_checkpoint(tmp_path / "ckpt", hf, cfg, legacy=False)
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps({**cfg, "intermediate_size": 128}))
    with pytest.raises(ValueError, match=r"shape mismatches: .*intermediate\.dense\.weight"):
        load_backbone(ModelConfig(family="nt", path=str(tmp_path / "ckpt")))
    with pytest.raises(ValueError, match=r"position_embedding_type='rotary'.*nucleotide_transformer_v2"):
        FAM.build({**cfg, "position_embedding_type": "rotary"})
    with pytest.raises(ValueError, match="token_dropout"):
        FAM.build({**cfg, "token_dropout": True})


def test_save_load_round_trip_bit_exact(tmp_path: Path) -> None:
    cfg = FAM.tiny_config()
    model = FAM.build(cfg).eval()
    FAM.save(model, cfg, tmp_path / "run")
    back = load_backbone(ModelConfig(family="nt", path=str(tmp_path / "run"))).model.eval()
    a, b = model.state_dict(), back.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ids, mask = _batch([7, 3], 7)
    assert torch.equal(
        model(input_ids=ids, attention_mask=mask).logits, back(input_ids=ids, attention_mask=mask).logits
    )
