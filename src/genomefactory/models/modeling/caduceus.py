"""Caduceus modules (BiMamba PH / RCPS PS) with the published parameter names; the family spec, conventions and
variants are in ``models/families/caduceus.py``.

Shapes: ``input_ids``/``attention_mask`` (batch, length); hidden states (batch, length, d_model), the raw PS
state (batch, length, 2·d_model) laid out ``[fwd | rc]``. Token ids and the complement map: see the family module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from tokenizers import normalizers, processors
from torch import Tensor, nn
from transformers import PreTrainedTokenizerFast
from transformers.modeling_outputs import MaskedLMOutput
from transformers.utils import ModelOutput

from ...config import ConfigError
from ..families.caduceus import VOCAB, complement_map
from ..layers.bimamba import CaduceusBlock, CaduceusEmbeddings, NormHolder, add_norm, make_norm, unwrap_norm
from ..layers.mamba import MambaMixer
from ..layers.rcps import RCPSLMHead, rcps_combine
from ..tokenizers import char_tokenizer
from ..weights import CheckpointError

__all__ = ["Caduceus", "CaduceusForMaskedLM", "caduceus_tokenizer", "fill_tied", "published_state"]


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
            raise ConfigError(f"config model_type is {c.get('model_type')!r}, not a Caduceus config")
        missing = [k for k in ("d_model", "n_layer", "vocab_size") if k not in c]
        if missing:
            raise ConfigError(f"Caduceus config lacks {', '.join(missing)}")
        ssm = dict(c.get("ssm_cfg") or {})
        MambaMixer.check_config(ssm, "Caduceus config")
        vocab, mult = int(c["vocab_size"]), int(c.get("pad_vocab_size_multiple", 8))
        vocab += (-vocab) % mult
        strategy = c.get("bidirectional_strategy") or "add"
        if strategy not in ("add", "ew_multiply"):
            raise ConfigError(f"bidirectional_strategy must be 'add' or 'ew_multiply', got {strategy!r}")
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
            raise ConfigError(f"complement_map must be an involution on 0..{vocab - 1}; got {complement}")
        if int(c["n_layer"]) < 1:
            raise ConfigError("Caduceus config: n_layer must be >= 1")
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


def fill_tied(state: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
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
                raise CheckpointError(
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


def published_state(model: nn.Module) -> dict[str, Tensor]:
    """The published layout: each tied tensor stored once, under its first name (``mamba_fwd.*``, the
    embedding), like the transformers 4.38 files."""
    canonical = {n for n, _ in model.named_parameters()} | {n for n, _ in model.named_buffers()}
    return {k: v for k, v in model.state_dict().items() if k in canonical}
