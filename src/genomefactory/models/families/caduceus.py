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
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tokenizers import normalizers, processors
from torch import Tensor, nn
from transformers import PreTrainedTokenizerFast
from transformers.modeling_outputs import MaskedLMOutput
from transformers.utils import ModelOutput

from ..layers.bimamba import CaduceusBlock, CaduceusEmbeddings, NormHolder, add_norm, make_norm, unwrap_norm
from ..layers.mamba import MambaMixer
from ..layers.rcps import RCPSLMHead, rcps_combine
from ..registry import ModelFamily, register
from ..tokenizers import char_tokenizer

__all__ = ["CADUCEUS", "CaduceusForMaskedLM", "caduceus_tokenizer", "complement_map"]

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


def caduceus_tokenizer(model_max_length: int = 131072) -> PreTrainedTokenizerFast:
    """The published character tokenizer, built offline; ``.complement_map`` is attached as on the original."""
    tok = char_tokenizer(
        VOCAB,
        "$A [SEP]",
        "left",
        model_max_length,
        unk_token="[UNK]",
        pad_token="[PAD]",
        sep_token="[SEP]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        bos_token="[BOS]",
        eos_token="[SEP]",
    )
    # the published tokenizer upper-cases; only a/c/g/t/n can change their id by it
    tok.backend_tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Replace(c.lower(), c) for c in "ACGTN"]
    )
    # a pair is ``A [SEP] B [SEP]`` as in the published build_inputs_with_special_tokens (all type ids 0)
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="$A [SEP]", pair="$A [SEP] $B:0 [SEP]:0", special_tokens=[("[SEP]", VOCAB["[SEP]"])]
    )
    tok.complement_map = dict(enumerate(complement_map(len(VOCAB))))
    return tok


@dataclass
class _Cfg:
    """The fields of a Caduceus ``config.json`` that shape the model (vocab already padded)."""

    d_model: int
    n_layer: int
    vocab_size: int
    ssm_cfg: dict[str, Any]
    rms_norm: bool
    fused_add_norm: bool
    residual_in_fp32: bool
    norm_epsilon: float
    bidirectional: bool
    strategy: str
    weight_tie: bool
    rcps: bool
    complement: list[int]
    tie_embeddings: bool
    init_range: float
    rescale_layers: int  # n_residuals_per_layer · n_layer (GPT-2 style out_proj scaling), 0 = off

    @classmethod
    def parse(cls, c: Mapping[str, Any]) -> _Cfg:
        if c.get("model_type", "caduceus") != "caduceus":
            raise ValueError(f"config model_type is {c.get('model_type')!r}, not a Caduceus config")
        missing = [k for k in ("d_model", "n_layer", "vocab_size") if k not in c]
        if missing:
            raise ValueError(f"Caduceus config lacks {', '.join(missing)}")
        ssm = dict(c.get("ssm_cfg") or {})
        MambaMixer.check_config(ssm, "Caduceus config")
        vocab, mult = int(c["vocab_size"]), int(c.get("pad_vocab_size_multiple", 8))
        vocab += (-vocab) % mult
        strategy = c.get("bidirectional_strategy") or "add"
        if strategy not in ("add", "ew_multiply"):
            raise ValueError(f"bidirectional_strategy must be 'add' or 'ew_multiply', got {strategy!r}")
        init = dict(c.get("initializer_cfg") or {})
        comp = c.get("complement_map")
        complement = (
            complement_map(vocab)
            if comp is None
            else [
                int(comp.get(str(i), comp.get(i, i))) if isinstance(comp, Mapping) else int(comp[i])
                for i in range(vocab)
            ]
        )
        if sorted(complement) != list(range(vocab)) or any(
            complement[j] != i for i, j in enumerate(complement)
        ):
            raise ValueError(f"complement_map must be an involution on 0..{vocab - 1}; got {complement}")
        if int(c["n_layer"]) < 1:
            raise ValueError("Caduceus config: n_layer must be >= 1")
        rescale = int(init.get("n_residuals_per_layer", 1)) * int(c["n_layer"])
        return cls(
            int(c["d_model"]),
            int(c["n_layer"]),
            vocab,
            ssm,
            bool(c.get("rms_norm", True)),
            bool(c.get("fused_add_norm", True)),
            bool(c.get("residual_in_fp32", False)),
            float(c.get("norm_epsilon", 1e-5)),
            bool(c.get("bidirectional", True)),
            strategy,
            bool(c.get("bidirectional_weight_tie", True)),
            bool(c.get("rcps", False)),
            complement,
            bool(c.get("tie_word_embeddings", True)),
            float(init.get("initializer_range", 0.02)),
            rescale if init.get("rescale_prenorm_residual", True) else 0,
        )


class CaduceusMixerModel(nn.Module):
    """Embeddings, blocks, final add + norm; returns raw states (2·d_model channels for PS)."""

    def __init__(self, cfg: _Cfg) -> None:
        super().__init__()
        self.cfg = cfg
        self.embeddings = CaduceusEmbeddings(cfg)
        self.layers = nn.ModuleList(CaduceusBlock(cfg) for _ in range(cfg.n_layer))
        norm = make_norm(cfg)
        self.norm_f: nn.Module = NormHolder(norm) if cfg.rcps and not cfg.fused_add_norm else norm

    def forward(
        self, input_ids: Tensor, mask: Tensor | None, output_hidden_states: bool
    ) -> tuple[Tensor, list[Tensor]]:
        hidden = self.embeddings(input_ids)
        states = [hidden] if output_hidden_states else []
        residual: Tensor | None = None
        for i, layer in enumerate(self.layers):
            if output_hidden_states and i > 0:
                states.append(hidden + residual)
            hidden, residual = layer(hidden, residual, mask)
        # the final add + norm never swaps halves, fused or not (as in the published code)
        out, _ = add_norm(self.cfg, unwrap_norm(self.norm_f), hidden, residual, swap=False)
        if output_hidden_states:
            states.append(out)
        return out, states


@dataclass
class CaduceusOutput(ModelOutput):
    """``last_hidden_state`` (batch, length, d_model); ``rcps_hidden_state`` (batch, length, 2·d_model), PS only."""

    last_hidden_state: Tensor | None = None
    hidden_states: tuple[Tensor, ...] | None = None
    rcps_hidden_state: Tensor | None = None


class Caduceus(nn.Module):
    """The headless backbone (``base(model)``); see the module docstring for what it returns."""

    def __init__(self, cfg: _Cfg) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = CaduceusMixerModel(cfg)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        output_hidden_states: bool = False,
        **_: Any,
    ) -> CaduceusOutput:
        raw, states = self.backbone(input_ids, attention_mask, output_hidden_states)
        view = rcps_combine if self.cfg.rcps else (lambda t: t)
        hs = tuple(view(s) for s in states) if output_hidden_states else None
        return CaduceusOutput(
            last_hidden_state=view(raw), hidden_states=hs, rcps_hidden_state=raw if self.cfg.rcps else None
        )


class CaduceusForMaskedLM(nn.Module):
    """Backbone ``caduceus`` + LM head ``lm_head`` (tied to the input embedding, as published)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        cfg = _Cfg.parse(config)
        self.cfg = cfg
        self.caduceus = Caduceus(cfg)
        self.lm_head: nn.Module = (
            RCPSLMHead(cfg.d_model, cfg.vocab_size, cfg.complement)
            if cfg.rcps
            else nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        )
        self._init_weights()
        if cfg.tie_embeddings:
            target = self.lm_head.lm_head if isinstance(self.lm_head, RCPSLMHead) else self.lm_head
            target.weight = self.caduceus.backbone.embeddings.word_embeddings.weight  # type: ignore[assignment]

    @torch.no_grad()
    def _init_weights(self) -> None:
        """The published initialisation (Mamba's ``_init_weights``): zero biases, N(0, 0.02) embeddings,
        out_proj scaled by 1/sqrt(n_layer)."""
        for module in self.modules():
            if (
                isinstance(module, nn.Linear)
                and module.bias is not None
                and not getattr(module.bias, "_no_reinit", False)
            ):
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=self.cfg.init_range)
            if isinstance(module, MambaMixer) and self.cfg.rescale_layers:
                nn.init.kaiming_uniform_(module.out_proj.weight, a=math.sqrt(5))
                module.out_proj.weight /= math.sqrt(self.cfg.rescale_layers)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
        output_hidden_states: bool = False,
        **_: Any,
    ) -> MaskedLMOutput:
        out = self.caduceus(input_ids, attention_mask, output_hidden_states)
        raw = out.rcps_hidden_state if self.cfg.rcps else out.last_hidden_state
        logits = self.lm_head(raw).float()
        loss = None
        if labels is not None:  # -100 = ignored position (transformers' convention)
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)


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
        return CaduceusForMaskedLM(config)

    def base(self, model: nn.Module) -> nn.Module:
        return model.caduceus  # type: ignore[return-value]

    def blocks(self, base: nn.Module) -> list[nn.Module]:
        return list(base.backbone.layers)  # type: ignore[union-attr,arg-type]

    def hidden_size(self, config: dict[str, Any]) -> int:
        return int(config["d_model"])  # PS: the combined fwd/rc view, see the module docstring

    def max_tokens(self, config: dict[str, Any]) -> int:
        return int(config.get("model_max_length", 131072))

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
        if variant not in _SHAPES:
            raise ValueError(f"unknown Caduceus variant {variant!r}; choose from {', '.join(_SHAPES)}")
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
        config = super().read_config(directory)
        _Cfg.parse(config)  # fail early, naming the problem, on a config we cannot build
        tok_cfg = directory / "tokenizer_config.json"
        if "model_max_length" not in config and tok_cfg.is_file():
            config["model_max_length"] = int(json.loads(tok_cfg.read_text()).get("model_max_length", 131072))
        return config

    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        # the published repos ship only remote-code tokenizer files; the vocabulary is fixed, so build it here
        return caduceus_tokenizer(self.max_tokens(config))

    def remap_state_dict(self, state: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
        """Fill tied duplicates (and complement-map buffers) a checkpoint omits; refuse untied copies."""
        out = dict(state)
        groups: dict[int, list[str]] = {}
        for name, t in model.state_dict(keep_vars=True).items():
            groups.setdefault(id(t), []).append(name)
        for names in groups.values():
            present = [n for n in names if n in out]
            if len(names) < 2 or not present:
                continue
            ref = out[present[0]]
            for other in present[1:]:
                if out[other].shape != ref.shape or not torch.equal(out[other], ref):
                    raise ValueError(
                        f"checkpoint holds different values for tied weights {present[0]} and {other}; "
                        "the model shares one tensor between them (bidirectional_weight_tie / "
                        "tied LM head)"
                    )
            out.update({n: ref for n in names if n not in out})
        own = model.state_dict()
        for name, buf in own.items():
            if name.endswith("complement_map") and name not in out:
                out[name] = buf.clone()  # derived from config.json; older saves may omit it
        return out

    def checkpoint_state(self, model: nn.Module, config: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The published layout: each tied tensor stored once, under its first name (``mamba_fwd.*``, the
        embedding), like the transformers 4.38 files."""
        canonical = {n for n, _ in model.named_parameters()} | {n for n, _ in model.named_buffers()}
        return {k: v for k, v in model.state_dict().items() if k in canonical}


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
    )
)
