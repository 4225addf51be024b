"""Native ESM encoder shared by Nucleotide Transformer v1 and v2, with the published ``EsmForMaskedLM`` key names.

One module, two published flavours (MODELS.md §2.4):

- **v1** (``position_embedding_type="absolute"``, ``ffn="gelu"``): learned absolute positions added to the token
  embeddings; feed-forward ``output.dense(GELU_erf(intermediate.dense(x)))``, both with bias (H→I→H).
- **v2** (``"rotary"``, ``"swiglu"``): rotary positions on q/k (rotate-half, base 10000, full head dim) and a
  bias-free SwiGLU ``output.dense(SiLU(x₁) ⊙ x₂)`` with ``[x₁ | x₂] = intermediate.dense(x)`` (H→2I, I→H); the
  absolute position table is stored by the checkpoints but never read.

Shared math (pre-LN): ``x = x + O(Attn(LN(x)))`` with q scaled by 1/√d before rotary (ESM's order) and a
key-padding mask; ``x = x + FFN(LN(x))``; a final ``emb_layer_norm_after``; embeddings are multiplied by the
attention mask. LM head: dense → GELU → LN → decoder + bias. ``hidden_states`` holds the embeddings, then every
layer's output, with the last entry replaced by the final-normed output (as transformers' Esm returns it).

Absolute position ids follow ESM/fairseq: a token whose id is not ``pad_token_id`` gets ``pad_token_id + c``
where ``c`` counts the non-pad ids up to and including it in its row; pad ids get ``pad_token_id`` (the zero,
non-trained row of the table). They are computed from ``input_ids``, not from the attention mask, so a
right-padded row's real tokens sit at ``pad_token_id + 1 + i`` whatever the padding.

Shapes: ``input_ids``/``attention_mask`` (batch, length), hidden states (batch, length, hidden). ``EsmModel.
attn_path = "packed"`` runs the layers on real tokens only (:mod:`genomefactory.models.layers.varlen`): the
embeddings (absolute positions included) are computed per row of the padded batch and then packed, rotary angles
restart at 0 in every sequence, and no token attends across sequences; it equals the padded path to float rounding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput

from ...config import ConfigError
from ...errors import DataError
from ..weights import CheckpointError
from .init import bert_init
from .rotary import RotaryEmbedding, apply_rotary
from .varlen import Packed, pack, run_packed, varlen_attention

__all__ = ["EsmForMaskedLM", "EsmModel", "EsmSpec", "esm_position_ids", "remap_esm_state"]

_REQUIRED = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
)


@dataclass(frozen=True)
class EsmSpec:
    """The architecture; ``position_embedding_type`` and ``ffn`` are fixed by the family, the rest from config.json."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    position_embedding_type: Literal["rotary", "absolute"] = "rotary"
    ffn: Literal["swiglu", "gelu"] = "swiglu"
    ffn_bias: bool = False
    emb_layer_norm_before: bool = False
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 1
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    initializer_range: float = 0.02

    @classmethod
    def from_config(
        cls,
        config: dict[str, Any],
        *,
        name: str,
        position_embedding_type: str,
        ffn: str,
        ffn_bias: bool,
        hint: str,
    ) -> EsmSpec:
        """Validate a config.json dict for the flavour (``name`` and ``hint`` go into the error messages)."""
        missing = [k for k in _REQUIRED if k not in config]
        if missing:
            raise ConfigError(f"{name} config is missing {', '.join(missing)} (got keys: {sorted(config)})")
        checks = {
            "position_embedding_type": (
                config.get("position_embedding_type", position_embedding_type),
                position_embedding_type,
            ),
            "token_dropout": (bool(config.get("token_dropout", False)), False),
        }
        if ffn == "gelu":  # native Esm's FFN activation; the published v1 configs say "gelu" (erf form)
            checks["hidden_act"] = (config.get("hidden_act", "gelu"), "gelu")
        for key, (got, want) in checks.items():
            if got != want:
                raise ConfigError(
                    f"{name} config {key}={got!r}: this family implements only {want!r} ({hint})"
                )
        if int(config["hidden_size"]) % int(config["num_attention_heads"]):
            raise ConfigError(
                f"{name} config: hidden_size {config['hidden_size']} is not divisible by "
                f"num_attention_heads {config['num_attention_heads']}"
            )
        fields = cls.__dataclass_fields__.values()
        values: dict[str, Any] = {f.name: config.get(f.name, f.default) for f in fields}
        values.update(position_embedding_type=position_embedding_type, ffn=ffn, ffn_bias=ffn_bias)
        return cls(**values)


def esm_position_ids(input_ids: Tensor, pad_token_id: int) -> Tensor:
    """ESM/fairseq absolute positions (see the module docstring): (batch, length) long."""
    real = input_ids.ne(pad_token_id).long()
    return real.cumsum(1) * real + pad_token_id


class EsmEmbeddings(nn.Module):
    def __init__(self, cfg: EsmSpec) -> None:
        super().__init__()
        self.cfg = cfg
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        # v1 reads this table (its pad row stays zero, as in transformers); v2 stores it unused, without padding_idx
        absolute = cfg.position_embedding_type == "absolute"
        self.position_embeddings = nn.Embedding(
            cfg.max_position_embeddings, cfg.hidden_size, padding_idx=cfg.pad_token_id if absolute else None
        )
        self.layer_norm = (
            nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps) if cfg.emb_layer_norm_before else None
        )

    def _positions(self, input_ids: Tensor) -> Tensor:
        pos = esm_position_ids(input_ids, self.cfg.pad_token_id)
        limit = self.cfg.max_position_embeddings - self.cfg.pad_token_id - 1  # most non-pad tokens per row
        # the exact check needs a host sync; only rows wider than the limit can exceed it
        if input_ids.shape[1] > limit and int(pos.max()) >= self.cfg.max_position_embeddings:
            longest = int(input_ids.ne(self.cfg.pad_token_id).sum(1).max())
            raise DataError(
                f"a sequence has {longest} tokens; this model's absolute position table holds at most "
                f"{limit} (max_position_embeddings={self.cfg.max_position_embeddings}); "
                "truncate or split the input"
            )
        return pos

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        x = self.word_embeddings(input_ids)
        if self.cfg.position_embedding_type == "absolute":
            x = x + self.position_embeddings(self._positions(input_ids))
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return x * attention_mask[..., None].to(x.dtype)


class EsmSelfAttention(nn.Module):
    def __init__(self, cfg: EsmSpec) -> None:
        super().__init__()
        self.heads = cfg.num_attention_heads
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.rotary_embeddings = (
            RotaryEmbedding(self.head_dim) if cfg.position_embedding_type == "rotary" else None
        )
        self.p_dropout = cfg.attention_probs_dropout_prob

    def _split(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.head_dim).transpose(1, 2)

    def _forward_packed(self, x: Tensor, p: Packed) -> Tensor:
        q = self.query(x).view(-1, self.heads, self.head_dim) * self.head_dim**-0.5
        k = self.key(x).view(-1, self.heads, self.head_dim)
        if self.rotary_embeddings is not None:
            cos, sin = self.rotary_embeddings.cos_sin(p.max_len, x.device, x.dtype)
            cos, sin = cos[p.positions, None, :], sin[p.positions, None, :]  # (total, 1, head_dim)
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        out = varlen_attention(
            q,
            k,
            self.value(x).view(-1, self.heads, self.head_dim),
            p,
            1.0,
            self.p_dropout if self.training else 0.0,
        )
        return out.reshape(-1, self.heads * self.head_dim)

    def forward(self, x: Tensor, key_mask: Tensor | Packed | None) -> Tensor:
        if isinstance(key_mask, Packed):  # x: (total, hidden) real tokens
            return self._forward_packed(x, key_mask)
        q = self._split(self.query(x)) * self.head_dim**-0.5  # ESM scales before rotating
        k = self._split(self.key(x))
        if self.rotary_embeddings is not None:
            q, k = self.rotary_embeddings(q, k)
        out = F.scaled_dot_product_attention(
            q,
            k,
            self._split(self.value(x)),
            attn_mask=key_mask,
            dropout_p=self.p_dropout if self.training else 0.0,
            scale=1.0,
        )
        b, _, n, _ = out.shape
        return out.transpose(1, 2).reshape(b, n, self.heads * self.head_dim)


class EsmResidualOutput(nn.Module):
    """``dropout(dense(h)) + residual`` (``attention.output`` and the FFN's ``output``)."""

    def __init__(self, d_in: int, d_out: int, bias: bool, dropout: float) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, d_out, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: Tensor, residual: Tensor) -> Tensor:
        return self.dropout(self.dense(h)) + residual  # type: ignore[no-any-return]


class EsmAttention(nn.Module):
    def __init__(self, cfg: EsmSpec) -> None:
        super().__init__()
        self.self = EsmSelfAttention(cfg)
        self.output = EsmResidualOutput(cfg.hidden_size, cfg.hidden_size, True, cfg.hidden_dropout_prob)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: Tensor, key_mask: Tensor | Packed | None) -> Tensor:
        return self.output(self.self(self.LayerNorm(x), key_mask), x)  # type: ignore[no-any-return]


class EsmIntermediate(nn.Module):
    def __init__(self, cfg: EsmSpec) -> None:
        super().__init__()
        self.swiglu = cfg.ffn == "swiglu"
        width = 2 * cfg.intermediate_size if self.swiglu else cfg.intermediate_size
        self.dense = nn.Linear(cfg.hidden_size, width, bias=cfg.ffn_bias)

    def forward(self, x: Tensor) -> Tensor:
        if not self.swiglu:
            return F.gelu(self.dense(x))  # erf form, as native Esm's gelu
        x1, x2 = self.dense(x).chunk(2, dim=-1)  # SwiGLU: first half gated through SiLU
        return F.silu(x1) * x2


class EsmLayer(nn.Module):
    def __init__(self, cfg: EsmSpec) -> None:
        super().__init__()
        self.attention = EsmAttention(cfg)
        self.intermediate = EsmIntermediate(cfg)
        self.output = EsmResidualOutput(
            cfg.intermediate_size, cfg.hidden_size, cfg.ffn_bias, cfg.hidden_dropout_prob
        )
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: Tensor, key_mask: Tensor | Packed | None) -> Tensor:
        x = self.attention(x, key_mask)
        return self.output(self.intermediate(self.LayerNorm(x)), x)  # type: ignore[no-any-return]


class EsmEncoder(nn.Module):
    def __init__(self, cfg: EsmSpec) -> None:
        super().__init__()
        self.layer = nn.ModuleList(EsmLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.emb_layer_norm_after = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)


class EsmContactHead(nn.Module):
    """Kept for checkpoint compatibility (ESM's contact predictor); not used by any forward pass here."""

    def __init__(self, cfg: EsmSpec) -> None:
        super().__init__()
        self.regression = nn.Linear(cfg.num_hidden_layers * cfg.num_attention_heads, 1)


class EsmModel(nn.Module):
    """The headless encoder (``esm.*`` in the published checkpoints)."""

    def __init__(self, cfg: EsmSpec) -> None:
        super().__init__()
        self.config = cfg
        self.embeddings = EsmEmbeddings(cfg)
        self.encoder = EsmEncoder(cfg)
        self.contact_head = EsmContactHead(cfg)
        self.attn_path = "padded"  # or "packed": see the module docstring; not part of the checkpoint

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor | None = None, output_hidden_states: bool = False
    ) -> BaseModelOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        x = self.embeddings(input_ids, attention_mask)
        if self.attn_path == "packed":
            return self._forward_packed(x, attention_mask, output_hidden_states)
        key_mask = None if bool(attention_mask.all()) else attention_mask.bool()[:, None, None, :]
        states = [x]
        for layer in self.encoder.layer:
            x = layer(x, key_mask)
            states.append(x)
        states[-1] = x = self.encoder.emb_layer_norm_after(x)
        return BaseModelOutput(
            last_hidden_state=x, hidden_states=tuple(states) if output_hidden_states else None
        )

    def _forward_packed(self, x: Tensor, mask: Tensor, output_hidden_states: bool) -> BaseModelOutput:
        return run_packed(
            self.encoder.layer,
            x,
            pack(mask),
            output_hidden_states,  # type: ignore[no-any-return]
            final=self.encoder.emb_layer_norm_after,
        )


class EsmLMHead(nn.Module):
    def __init__(self, cfg: EsmSpec) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.decoder = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.layer_norm(F.gelu(self.dense(x)))) + self.bias  # type: ignore[no-any-return]


class EsmForMaskedLM(nn.Module):
    def __init__(self, cfg: EsmSpec) -> None:
        super().__init__()
        self.config = cfg
        self.esm = EsmModel(cfg)
        self.lm_head = EsmLMHead(cfg)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        bert_init(module, self.config.initializer_range)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
        output_hidden_states: bool = False,
    ) -> MaskedLMOutput:
        out = self.esm(input_ids, attention_mask, output_hidden_states=output_hidden_states)
        logits = self.lm_head(out.last_hidden_state)
        loss = None
        if labels is not None:  # -100 = position not scored
            loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)


def remap_esm_state(state: dict[str, Tensor], model: nn.Module, name: str) -> dict[str, Tensor]:
    """Published/older ESM checkpoint names -> this module's (``name`` labels errors, e.g. "NT-v1").

    - ``.gamma``/``.beta`` LayerNorm names (written by some transformers versions) become ``.weight``/``.bias``.
    - rotary ``inv_freq`` is a function of the head size: files without it (or with transformers 5's single
      ``esm.rotary_embeddings.inv_freq``) get the closed form; a stored value that disagrees is an error.
    - ``*.embeddings.position_ids`` (a buffer older transformers saved) must be ``0..n-1`` and is dropped.
    """
    out = {re.sub(r"\.gamma$", ".weight", re.sub(r"\.beta$", ".bias", k)): v for k, v in state.items()}
    own = model.state_dict()
    for key in [k for k in out if k.endswith("embeddings.position_ids") and k not in own]:
        ids = out.pop(key)
        if not torch.equal(ids.flatten().long(), torch.arange(ids.numel())):
            raise CheckpointError(
                f"checkpoint {key} is not 0..{ids.numel() - 1}; is this an {name} checkpoint?"
            )
    for key in [k for k in out if k.endswith("inv_freq") and k not in own]:
        del out[key]
    for key in (k for k in own if k.endswith("inv_freq")):
        if key not in out:
            out[key] = own[key].detach().clone()
        elif out[key].shape == own[key].shape and not torch.allclose(out[key].float(), own[key].float()):
            raise CheckpointError(
                f"checkpoint {key} differs from the rotary frequencies of head size "
                f"{2 * own[key].numel()}; is this an {name} checkpoint?"
            )
    return out
