"""Any Hugging Face model given by hub id or local directory (``model.family: hf_auto``, ``model.path: ...``).

Loads with the ``Auto*`` classes of the installed transformers: ``*ForCausalLM`` checkpoints as decoders,
``*ForMaskedLM`` as encoders, anything else as a bare ``AutoModel``. Remote code runs only when the user sets
``trust_remote_code: true``. The tokenizer is the checkpoint's own (``AutoTokenizer``).
The tiny variant is a 2-layer BERT with a character tokenizer, for tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..registry import Backbone, ModelFamily, register

if TYPE_CHECKING:
    from torch import nn

    from ..config import ModelConfig

__all__ = ["HF_AUTO", "HFAuto"]

_CHAR_VOCAB = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"ACGTNRYSWKMBDHV"])}


def _auto_class(config: dict[str, Any]) -> Any:
    """The transformers Auto class for a config dict: causal LM, masked LM, or the bare model."""
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    names = config.get("architectures") or []
    archs = " ".join(names)
    # causal heads not named *CausalLM (GPT2LMHeadModel, ...) are found in transformers' own causal-LM table
    causal = set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())
    if "CausalLM" in archs or any(n in causal for n in names) or config.get("is_decoder"):
        return AutoModelForCausalLM
    if "MaskedLM" in archs:
        return AutoModelForMaskedLM
    return AutoModel


class HFAuto(ModelFamily):
    def build(self, config: dict[str, Any]) -> nn.Module:
        from transformers import AutoConfig

        cfg = dict(config)
        cfg_obj = AutoConfig.for_model(
            cfg.pop("model_type"), **{k: v for k, v in cfg.items() if k not in ("transformers_version",)}
        )
        return _auto_class(config).from_config(cfg_obj, attn_implementation="sdpa")  # type: ignore[no-any-return]

    def base(self, model: nn.Module) -> nn.Module:
        return getattr(model, "base_model", model)  # type: ignore[no-any-return]

    def blocks(self, base: nn.Module) -> list[nn.Module]:
        from torch import nn

        # the usual homes of the layer stack in transformers models (BERT/ESM, Llama-likes, GPT-2, others)
        for path in ("encoder.layer", "layers", "h", "blocks", "decoder.layers"):
            obj: Any = base
            for part in path.split("."):
                obj = getattr(obj, part, None)
            if isinstance(obj, nn.ModuleList):
                return list(obj)
        return []

    def max_tokens(self, config: dict[str, Any]) -> int:
        for key in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
            if key in config and isinstance(config[key], int):
                return int(config[key])
        return 512

    def tiny_config(self) -> dict[str, Any]:
        return {
            "model_type": "bert",
            "architectures": ["BertForMaskedLM"],
            "vocab_size": len(_CHAR_VOCAB),
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 64,
            "max_position_embeddings": 512,
            "pad_token_id": 0,
        }

    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        from transformers import AutoTokenizer

        from ..tokenizers import char_tokenizer

        if directory is None:
            return char_tokenizer(
                _CHAR_VOCAB,
                "[CLS] $A [SEP]",
                "right",
                self.max_tokens(config),
                unk_token="[UNK]",
                pad_token="[PAD]",
                cls_token="[CLS]",
                sep_token="[SEP]",
                mask_token="[MASK]",
            )
        return AutoTokenizer.from_pretrained(str(directory))

    def load_pretrained(
        self, directory: Path, *, source: str, variant: str | None, cfg: ModelConfig, random_init: bool
    ) -> Backbone:
        from transformers import AutoConfig, AutoTokenizer

        trust = bool(cfg.trust_remote_code)
        config_obj = AutoConfig.from_pretrained(str(directory), trust_remote_code=trust)
        config = config_obj.to_dict()
        auto = _auto_class(config)
        if random_init:
            model = auto.from_config(config_obj, trust_remote_code=trust)
        else:
            model = auto.from_pretrained(str(directory), trust_remote_code=trust)
        tok = AutoTokenizer.from_pretrained(str(directory), trust_remote_code=trust)
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token or tok.unk_token
        return Backbone(self, model, tok, config, source, variant)

    def is_decoder(self, config: dict[str, Any]) -> bool:
        from transformers import AutoModelForCausalLM

        return _auto_class(config) is AutoModelForCausalLM


HF_AUTO = register(
    HFAuto(
        name="hf_auto",
        kind="encoder",
        description="Any Hugging Face encoder or decoder by hub id or local path (model.path)",
        variants={"tiny": ""},
        default_variant="tiny",
        lora_targets=("re:.*(dense|query|key|value|proj|fc1|fc2|c_attn|c_fc|c_proj)$",),
        in_out_proj=("re:.*(query|key|value|q_proj|k_proj|v_proj|o_proj)$",),
        pooling="mean",
        aliases=("auto", "huggingface"),
        supports_remote_code=True,
        tokenizer_kind="other",
    )
)
