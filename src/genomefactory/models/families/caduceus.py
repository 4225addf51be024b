"""Caduceus (Schiff et al. 2024): bidirectional Mamba (BiMamba) DNA encoders, PH and reverse-complement
equivariant PS, implemented natively with the published parameter names (MODELS.md §2.3).

Tokens: one per base, ids ``[CLS]0 [SEP]1 [BOS]2 [MASK]3 [PAD]4 [RESERVED]5 [UNK]6 A7 C8 G9 T10 N11`` (HyenaDNA's
ids); input is upper-cased, ``[SEP]`` appended (a pair: ``A [SEP] B [SEP]``), batches padded on the **left**; other
characters become ``[UNK]``.
The model's vocabulary is padded to a multiple of 8 (16). Complement map: A<->T (7<->10), C<->G (8<->9), every
other id maps to itself.

Architecture: embedding -> ``n_layer`` pre-norm BiMamba blocks -> final add + norm; the blocks, the PS half
handling and the published ``fused_add_norm`` half swap are described in ``layers/bimamba.py``. PS (``rcps: true``)
hidden states have 2·d_model channels ``[fwd | rc]`` (``layers/rcps.py``); the model is exactly RC-equivariant.

What the backbone (``base(model)``, ``model.caduceus``) returns, shapes (batch, length, hidden):
``last_hidden_state`` has ``hidden_size(config) = d_model`` channels for both variants; for PS it is the mean of
the fwd half and the channel-flipped rc half at the same position (RC-invariant up to position reversal), the
raw 2·d_model state being ``rcps_hidden_state`` (the published classifier also reverses the rc half along the
length before averaging its logits; after mean pooling the two agree). ``hidden_states`` (when asked): ``n_layer + 1`` entries, the embeddings, the residual stream
entering blocks 1..n_layer-1, and the final normalised output (combined the same way for PS). (The published
code lists mixer outputs without the residual instead; the residual stream is what layer-wise probes want.)

Padding: ``attention_mask`` zeroes padded positions inside every mixer (``layers/mamba.py``), so a left-padded
sequence gets the same hidden states at its tokens as the sequence alone. The published model ignores masks;
on unpadded input both agree (outputs checked against the authors' code: ``tests/models/test_caduceus_reference.py``).
Checkpoints saved by transformers 4.38 omit tied duplicates (``mamba_rev.in_proj``,
``mamba_rev.out_proj``, the LM head); they are filled from their partners on load and omitted again on save.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..registry import ModelFamily, register

if TYPE_CHECKING:
    from torch import Tensor, nn

__all__ = ["CADUCEUS", "VOCAB", "CaduceusFamily", "complement_map"]

VOCAB = {
    "[CLS]": 0,
    "[SEP]": 1,
    "[BOS]": 2,
    "[MASK]": 3,
    "[PAD]": 4,
    "[RESERVED]": 5,
    "[UNK]": 6,
    "A": 7,
    "C": 8,
    "G": 9,
    "T": 10,
    "N": 11,
}
_PAIRS = {"A": "T", "C": "G", "G": "C", "T": "A"}


def complement_map(vocab_size: int = 16) -> list[int]:
    """Token id -> id of its complement (A<->T, C<->G; everything else, padding ids included, to itself)."""
    ids = list(range(vocab_size))
    for base, comp in _PAIRS.items():
        ids[VOCAB[base]] = VOCAB[comp]
    return ids


_SSM = {
    "d_state": 16,
    "d_conv": 4,
    "expand": 2,
    "dt_rank": "auto",
    "dt_min": 0.001,
    "dt_max": 0.1,
    "dt_init": "random",
    "dt_scale": 1.0,
    "dt_init_floor": 1e-4,
    "conv_bias": True,
    "bias": False,
    "use_fast_path": True,
}
_COMMON: dict[str, Any] = {
    "model_type": "caduceus",
    "architectures": ["CaduceusForMaskedLM"],
    "vocab_size": 16,
    "pad_vocab_size_multiple": 8,
    "rms_norm": True,
    "fused_add_norm": True,
    "residual_in_fp32": False,
    "norm_epsilon": 1e-5,
    "bidirectional": True,
    "bidirectional_strategy": "add",
    "bidirectional_weight_tie": True,
    "initializer_cfg": {
        "initializer_range": 0.02,
        "n_residuals_per_layer": 1,
        "rescale_prenorm_residual": True,
    },
    "complement_map": {str(i): c for i, c in enumerate(complement_map(16))},
}
# (strand handling, d_model, n_layer, context): 131k from the published config.json (MODELS.md §2.3); the 1k shapes
# from the hub ids (d_model/n_layer are in the names; ~470K parameters at d_model 118 as in the Caduceus paper).
_SHAPES = {
    "ph-1k": (False, 118, 4, 1024),
    "ps-1k": (True, 118, 4, 1024),
    "ph-1k-d256": (False, 256, 4, 1024),
    "ps-1k-d256": (True, 256, 4, 1024),
    "ph-131k": (False, 256, 16, 131072),
    "ps-131k": (True, 256, 16, 131072),
}


def _hub_id(variant: str) -> str:
    rcps, d, n, ctx = _SHAPES[variant]
    strand, length = ("ps" if rcps else "ph"), ("131k" if ctx > 1024 else "1k")
    suffix = "_lr-8e-3" if ctx == 1024 else ""
    return f"kuleshov-group/caduceus-{strand}_seqlen-{length}_d_model-{d}_n_layer-{n}{suffix}"


class CaduceusFamily(ModelFamily):
    def build(self, config: dict[str, Any]) -> nn.Module:
        from ..modeling.caduceus import CaduceusForMaskedLM

        return CaduceusForMaskedLM(config)

    def base(self, model: nn.Module) -> nn.Module:
        return model.caduceus  # type: ignore[return-value]

    def blocks(self, base: nn.Module) -> list[nn.Module]:
        return list(base.backbone.layers)  # type: ignore[union-attr,arg-type]

    def hidden_size(self, config: dict[str, Any]) -> int:
        return int(config["d_model"])  # PS: the combined fwd/rc view, see the module docstring

    def max_tokens(self, config: dict[str, Any]) -> int:
        return int(config.get("model_max_length", 131072))

    def rc_equivariant(self, config: dict[str, Any]) -> bool:
        return bool(config.get("rcps", False))  # PS; PH is RC-invariant only by averaging x and RC(x)

    def tiny_config(self) -> dict[str, Any]:
        return {
            **_COMMON,
            "d_model": 16,
            "n_layer": 2,
            "rcps": True,
            "model_max_length": 1024,
            "ssm_cfg": {**_SSM, "d_state": 4},
        }

    def published_config(self, variant: str) -> dict[str, Any]:
        self._check_variant(variant, _SHAPES)
        rcps, d, n, ctx = _SHAPES[variant]
        return {
            **_COMMON,
            "d_model": d,
            "n_layer": n,
            "rcps": rcps,
            "ssm_cfg": dict(_SSM),
            "model_max_length": ctx,
        }

    def read_config(self, directory: Path) -> dict[str, Any]:
        from ..modeling.caduceus import _Cfg

        config = super().read_config(directory)
        _Cfg.parse(config)  # fail early, naming the problem, on a config we cannot build
        tok_cfg = directory / "tokenizer_config.json"
        if "model_max_length" not in config and tok_cfg.is_file():
            config["model_max_length"] = int(json.loads(tok_cfg.read_text()).get("model_max_length", 131072))
        return config

    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        from ..modeling.caduceus import caduceus_tokenizer

        # the published repos ship only remote-code tokenizer files; the vocabulary is fixed, so build it here
        return caduceus_tokenizer(self.max_tokens(config))

    def remap_state_dict(self, state: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
        from ..modeling.caduceus import fill_tied

        return fill_tied(state, model)

    def checkpoint_state(self, model: nn.Module, config: dict[str, Any]) -> dict[str, Tensor]:
        from ..modeling.caduceus import published_state

        return published_state(model)


CADUCEUS = register(
    CaduceusFamily(
        name="caduceus",
        kind="encoder",
        description="Caduceus (bidirectional Mamba; PS = reverse-complement equivariant, PH = plain), 1 bp tokens",
        variants={v: _hub_id(v) for v in _SHAPES},
        default_variant="ps-131k",
        # paper appendix C: LoRA on "all feed-forward layers"; Caduceus has no MLP, its feed-forward layers are the
        # mixers' linear projections: in_proj/out_proj (shared by both directions: one adapter each, on the
        # mamba_fwd module that both directions call) and x_proj/dt_proj of each direction. r=8 gives 540,672
        # parameters for Caduceus-131k. The paper's 0.81M (Table 2) = separate adapters on the two tied copies as
        # well; we avoid that because merging would add both adapters into the one shared weight.
        lora_targets=("mamba_fwd.in_proj", "mamba_fwd.out_proj", "x_proj", "dt_proj"),
        in_out_proj=("mamba_fwd.in_proj", "mamba_fwd.out_proj"),
        learning_rate=1e-3,  # the paper's Caduceus rate (appendix C.2)
        pooling="mean",
        padding_side="left",
        aliases=("Caduceus", "caduceus_ps", "caduceus_ph"),
        tokenizer_kind="char",
        mask_token="[MASK]",
        checkpoint_model_types=("caduceus",),
        checkpoint_classes=("Caduceus",),
    )
)
