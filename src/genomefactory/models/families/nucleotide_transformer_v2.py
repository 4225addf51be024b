"""Nucleotide Transformer v2 (InstaDeep; 50M/100M/250M/500M): ESM encoder with rotary positions and SwiGLU.

Implemented natively: the published checkpoints need remote code that no longer imports on transformers 5, and
native ``EsmForMaskedLM`` cannot hold their bias-free SwiGLU feed-forward (MODELS.md §2.4). Parameter names equal
the published ``EsmForMaskedLM`` state dict (``esm.*``, ``lm_head.*``), including the absolute position table
``esm.embeddings.position_embeddings`` that v2 stores but never uses (kept so checkpoints load strictly and the
parameter count matches the published 55,904,972 for 50M) and the per-layer rotary ``inv_freq`` buffers.

Math (pre-LN): ``x = x + O(Attn(LN(x)))`` with q scaled by 1/√d *before* rotary (rotate-half, base 10000, full
head dim) and a key-padding mask; ``x = x + W_o(SiLU(x₁) ⊙ x₂)`` where ``[x₁ | x₂] = W_i LN(x)`` (no biases); a
final ``emb_layer_norm_after``. Embeddings are multiplied by the attention mask. LM head: dense → GELU → LN →
decoder + bias.

Shapes: ``input_ids``/``attention_mask`` (batch, length), hidden states (batch, length, hidden); batches are
padded on the right (positions are 0..L-1, so padding never shifts a real token). ``NtV2Model.attn_path =
"packed"`` runs the layers on real tokens only (:mod:`genomefactory.models.layers.varlen`): rotary positions
restart at 0 in every sequence and no token attends across sequences; it equals the padded path to float rounding. Tokenizer: non-overlapping
6-mers from the left of every A/C/G/T run, leftovers and N as single bases, ``<cls>`` prepended, **v2 id order**
(``<unk>0 <pad>1 <mask>2 <cls>3 <eos>4 <bos>5``, k-mers 6..4101, ``A T C G N`` 4102..4106).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput

from ..layers.rotary import RotaryEmbedding, apply_rotary
from ..layers.varlen import Packed, pack, repad, unpad, varlen_attention
from ..registry import ModelFamily, register
from .nucleotide_transformer import esm_tokenizer

__all__ = ["NT_V2", "NtV2Config", "NtV2ForMaskedLM", "NtV2Model"]

_COMMON: dict[str, Any] = dict(
    model_type="esm", architectures=["EsmForMaskedLM"], vocab_size=4107, max_position_embeddings=2050,
    position_embedding_type="rotary", add_bias_fnn=False, emb_layer_norm_before=False, token_dropout=False,
    layer_norm_eps=1e-12, pad_token_id=1, mask_token_id=2, hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0, tie_word_embeddings=False, initializer_range=0.02,
)  # fmt: skip
# from the published config.json files (a pretrained load always reads the checkpoint's own)
_SIZES = {
    "50m": dict(hidden_size=512, num_hidden_layers=12, num_attention_heads=16, intermediate_size=2048),
    "100m": dict(hidden_size=512, num_hidden_layers=22, num_attention_heads=16, intermediate_size=2048),
    "250m": dict(hidden_size=768, num_hidden_layers=24, num_attention_heads=16, intermediate_size=3072),
    "500m": dict(hidden_size=1024, num_hidden_layers=29, num_attention_heads=16, intermediate_size=4096),
}
_REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
             "max_position_embeddings")  # fmt: skip


@dataclass(frozen=True)
class NtV2Config:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    add_bias_fnn: bool = False
    emb_layer_norm_before: bool = False
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 1
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    initializer_range: float = 0.02

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> NtV2Config:
        missing = [k for k in _REQUIRED if k not in config]
        if missing:
            raise ValueError(f"NT-v2 config is missing {', '.join(missing)} (got keys: {sorted(config)})")
        unsupported = {"position_embedding_type": (config.get("position_embedding_type", "rotary"), "rotary"),
                       "token_dropout": (bool(config.get("token_dropout", False)), False)}  # fmt: skip
        for key, (got, want) in unsupported.items():
            if got != want:
                raise ValueError(f"NT-v2 config {key}={got!r}: this family implements only {want!r} "
                                 "(NT v1 checkpoints belong to the 'nucleotide_transformer' family)")  # fmt: skip
        if int(config["hidden_size"]) % int(config["num_attention_heads"]):
            raise ValueError(f"NT-v2 config: hidden_size {config['hidden_size']} is not divisible by "
                             f"num_attention_heads {config['num_attention_heads']}")  # fmt: skip
        defaults = {f.name: f.default for f in cls.__dataclass_fields__.values()}
        return cls(**{k: config.get(k, defaults[k]) for k in cls.__dataclass_fields__})


class NtV2Embeddings(nn.Module):
    def __init__(self, cfg: NtV2Config) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        # stored in the published checkpoints but never read with rotary positions
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps) if cfg.emb_layer_norm_before \
            else None  # fmt: skip

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        x = self.word_embeddings(input_ids)
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return x * attention_mask[..., None].to(x.dtype)


class NtV2SelfAttention(nn.Module):
    def __init__(self, cfg: NtV2Config) -> None:
        super().__init__()
        self.heads = cfg.num_attention_heads
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.rotary_embeddings = RotaryEmbedding(self.head_dim)
        self.p_dropout = cfg.attention_probs_dropout_prob

    def _split(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.head_dim).transpose(1, 2)

    def _forward_packed(self, x: Tensor, p: Packed) -> Tensor:
        q = self.query(x).view(-1, self.heads, self.head_dim) * self.head_dim**-0.5
        k = self.key(x).view(-1, self.heads, self.head_dim)
        cos, sin = self.rotary_embeddings.cos_sin(p.max_len, x.device, x.dtype)
        cos, sin = cos[p.positions, None, :], sin[p.positions, None, :]  # (total, 1, head_dim)
        out = varlen_attention(apply_rotary(q, cos, sin), apply_rotary(k, cos, sin),
                               self.value(x).view(-1, self.heads, self.head_dim), p, 1.0,
                               self.p_dropout if self.training else 0.0)  # fmt: skip
        return out.reshape(-1, self.heads * self.head_dim)

    def forward(self, x: Tensor, key_mask: Tensor | Packed | None) -> Tensor:
        if isinstance(key_mask, Packed):  # x: (total, hidden) real tokens
            return self._forward_packed(x, key_mask)
        q = self._split(self.query(x)) * self.head_dim**-0.5  # ESM scales before rotating
        q, k = self.rotary_embeddings(q, self._split(self.key(x)))
        out = F.scaled_dot_product_attention(q, k, self._split(self.value(x)), attn_mask=key_mask,
                                             dropout_p=self.p_dropout if self.training else 0.0, scale=1.0)  # fmt: skip
        b, _, n, _ = out.shape
        return out.transpose(1, 2).reshape(b, n, self.heads * self.head_dim)


class NtV2SelfOutput(nn.Module):
    def __init__(self, cfg: NtV2Config) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, h: Tensor, residual: Tensor) -> Tensor:
        return self.dropout(self.dense(h)) + residual  # type: ignore[no-any-return]


class NtV2Attention(nn.Module):
    def __init__(self, cfg: NtV2Config) -> None:
        super().__init__()
        self.self = NtV2SelfAttention(cfg)
        self.output = NtV2SelfOutput(cfg)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: Tensor, key_mask: Tensor | Packed | None) -> Tensor:
        return self.output(self.self(self.LayerNorm(x), key_mask), x)  # type: ignore[no-any-return]


class NtV2Intermediate(nn.Module):
    def __init__(self, cfg: NtV2Config) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, 2 * cfg.intermediate_size, bias=cfg.add_bias_fnn)

    def forward(self, x: Tensor) -> Tensor:
        x1, x2 = self.dense(x).chunk(2, dim=-1)  # SwiGLU: first half gated through SiLU
        return F.silu(x1) * x2


class NtV2Output(nn.Module):
    def __init__(self, cfg: NtV2Config) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=cfg.add_bias_fnn)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, h: Tensor, residual: Tensor) -> Tensor:
        return self.dropout(self.dense(h)) + residual  # type: ignore[no-any-return]


class NtV2Layer(nn.Module):
    def __init__(self, cfg: NtV2Config) -> None:
        super().__init__()
        self.attention = NtV2Attention(cfg)
        self.intermediate = NtV2Intermediate(cfg)
        self.output = NtV2Output(cfg)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: Tensor, key_mask: Tensor | Packed | None) -> Tensor:
        x = self.attention(x, key_mask)
        return self.output(self.intermediate(self.LayerNorm(x)), x)  # type: ignore[no-any-return]


class NtV2Encoder(nn.Module):
    def __init__(self, cfg: NtV2Config) -> None:
        super().__init__()
        self.layer = nn.ModuleList(NtV2Layer(cfg) for _ in range(cfg.num_hidden_layers))
        self.emb_layer_norm_after = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)


class NtV2ContactHead(nn.Module):
    """Kept for checkpoint compatibility (ESM's contact predictor); not used by any forward pass here."""

    def __init__(self, cfg: NtV2Config) -> None:
        super().__init__()
        self.regression = nn.Linear(cfg.num_hidden_layers * cfg.num_attention_heads, 1)


class NtV2Model(nn.Module):
    """The headless encoder (``esm.*`` in the published checkpoint)."""

    def __init__(self, cfg: NtV2Config) -> None:
        super().__init__()
        self.config = cfg
        self.embeddings = NtV2Embeddings(cfg)
        self.encoder = NtV2Encoder(cfg)
        self.contact_head = NtV2ContactHead(cfg)
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
        # as in ESM, the last entry of hidden_states is the final-normed output
        states[-1] = x = self.encoder.emb_layer_norm_after(x)
        return BaseModelOutput(last_hidden_state=x, hidden_states=tuple(states) if output_hidden_states else None)

    def _forward_packed(self, x: Tensor, attention_mask: Tensor, output_hidden_states: bool) -> BaseModelOutput:
        p = pack(attention_mask)
        h = unpad(x, p)
        states = [h]
        for layer in self.encoder.layer:
            h = layer(h, p)
            states.append(h)
        states[-1] = h = self.encoder.emb_layer_norm_after(h)
        if not output_hidden_states:
            return BaseModelOutput(last_hidden_state=repad(h, p))
        padded = tuple(repad(s, p) for s in states)
        return BaseModelOutput(last_hidden_state=padded[-1], hidden_states=padded)


class NtV2LMHead(nn.Module):
    def __init__(self, cfg: NtV2Config) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.decoder = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.layer_norm(F.gelu(self.dense(x)))) + self.bias  # type: ignore[no-any-return]


class NtV2ForMaskedLM(nn.Module):
    def __init__(self, cfg: NtV2Config) -> None:
        super().__init__()
        self.config = cfg
        self.esm = NtV2Model(cfg)
        self.lm_head = NtV2LMHead(cfg)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor | None = None, labels: Tensor | None = None,
        output_hidden_states: bool = False,
    ) -> MaskedLMOutput:
        out = self.esm(input_ids, attention_mask, output_hidden_states=output_hidden_states)
        logits = self.lm_head(out.last_hidden_state)
        loss = None
        if labels is not None:  # -100 = position not scored
            loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)


class NucleotideTransformerV2(ModelFamily):
    def build(self, config: dict[str, Any]) -> nn.Module:
        return NtV2ForMaskedLM(NtV2Config.from_dict(config))

    def base(self, model: nn.Module) -> nn.Module:
        return model.esm  # type: ignore[return-value]

    def max_tokens(self, config: dict[str, Any]) -> int:
        return int(config.get("max_position_embeddings", 2050)) - 2

    def tiny_config(self) -> dict[str, Any]:
        return {**_COMMON, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                "intermediate_size": 64, "max_position_embeddings": 258}  # fmt: skip

    def published_config(self, variant: str) -> dict[str, Any]:
        if variant not in _SIZES:
            raise ValueError(f"unknown NT-v2 variant {variant!r}; choose from {', '.join(_SIZES)}")
        return {**_COMMON, **_SIZES[variant]}

    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        return esm_tokenizer(directory, "v2", self.max_tokens(config))

    def remap_state_dict(self, state: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
        # transformers 5 may write ESM LayerNorms as gamma/beta; the published files use weight/bias
        out = {re.sub(r"\.gamma$", ".weight", re.sub(r"\.beta$", ".bias", k)): v for k, v in state.items()}
        own = model.state_dict()
        # inv_freq is a function of the head size: files written without it (or under transformers 5's single
        # esm.rotary_embeddings.inv_freq) get the closed form; a stored value that disagrees is an error
        for key in [k for k in out if k.endswith("inv_freq") and k not in own]:
            del out[key]
        for key in (k for k in own if k.endswith("inv_freq")):
            if key not in out:
                out[key] = own[key].detach().clone()
            elif out[key].shape == own[key].shape and not torch.allclose(out[key].float(), own[key].float()):
                raise ValueError(f"checkpoint {key} differs from the rotary frequencies of head size "
                                 f"{2 * own[key].numel()}; is this an NT-v2 checkpoint?")  # fmt: skip
        return out


NT_V2 = register(
    NucleotideTransformerV2(
        name="nucleotide_transformer_v2",
        kind="encoder",
        description="Nucleotide Transformer v2 (ESM, rotary, SwiGLU, 6-mer tokens)",
        variants={v: f"InstaDeepAI/nucleotide-transformer-v2-{v}-multi-species" for v in _SIZES},
        default_variant="50m",
        lora_targets=("intermediate.dense", r"re:layer\.\d+\.output\.dense$"),
        in_out_proj=("query", "key", "value", "attention.output.dense"),
        pooling="mean",
        aliases=("nt_v2", "nucleotide_transformer2"),
    )
)
