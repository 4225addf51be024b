"""DNABERT-2 modules (post-LN BERT with ALiBi, fused QKV, gated-GELU MLP) with the published parameter names,
and its tokenizer; the family spec, math and conventions are in ``models/families/dnabert2.py``.

Shapes: ``input_ids``/``attention_mask``/``token_type_ids`` (batch, length); hidden states (batch, length,
hidden), exactly zero at padded positions; packed path: (total real tokens, hidden).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tokenizers import processors
from torch import Tensor, nn
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput

from ...config import ConfigError
from ..families.dnabert2 import _PUBLISHED, _REQUIRED, _SPECIALS
from ..layers.alibi import alibi_bias, alibi_slopes
from ..layers.init import bert_init
from ..layers.varlen import Packed, pack, run_packed, varlen_attention
from ..tokenizers import bpe_tokenizer, from_directory
from ..weights import CheckpointError

__all__ = ["Dnabert2Config", "Dnabert2ForMaskedLM", "Dnabert2Model", "dnabert2_tokenizer", "tie_decoder"]

_OPTIONAL = {k: v for k, v in _PUBLISHED.items() if k not in _REQUIRED}
_HEAD_LN_EPS = 1e-12


@dataclass(frozen=True)
class Dnabert2Config:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512
    alibi_starting_size: int = 512
    type_vocab_size: int = 2
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.0
    layer_norm_eps: float = 1e-12
    pad_token_id: int | None = None
    initializer_range: float = 0.02

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> Dnabert2Config:
        missing = [k for k in _REQUIRED if k not in config]
        if missing:
            raise ConfigError(
                f"DNABERT-2 config is missing {', '.join(missing)} (got keys: {sorted(config)})"
            )
        if config.get("hidden_act", "gelu") != "gelu":
            raise ConfigError(
                f"DNABERT-2 config hidden_act={config['hidden_act']!r}; only 'gelu' is implemented"
            )
        if int(config["hidden_size"]) % int(config["num_attention_heads"]):
            raise ConfigError(
                f"DNABERT-2 config: hidden_size {config['hidden_size']} is not divisible by "
                f"num_attention_heads {config['num_attention_heads']}"
            )
        values: dict[str, Any] = {k: config.get(k, _OPTIONAL.get(k)) for k in cls.__dataclass_fields__}
        return cls(**values)


class Dnabert2Embeddings(nn.Module):
    def __init__(self, cfg: Dnabert2Config) -> None:
        super().__init__()
        # padding_idx (a row that receives no gradient) only when the config names one; see _PUBLISHED
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None) -> Tensor:
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))  # type: ignore[no-any-return]


class Dnabert2SelfAttention(nn.Module):
    def __init__(self, cfg: Dnabert2Config) -> None:
        super().__init__()
        self.heads = cfg.num_attention_heads
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.Wqkv = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size)  # rows = [q | k | v], heads contiguous
        self.p_dropout = cfg.attention_probs_dropout_prob

    def forward(self, x: Tensor, bias: Tensor | Packed) -> Tensor:
        if isinstance(bias, Packed):  # x: (total, hidden) real tokens
            q, k, v = self.Wqkv(x).view(-1, 3, self.heads, self.head_dim).unbind(1)
            out = varlen_attention(
                q, k, v, bias, 1.0 / math.sqrt(self.head_dim), self.p_dropout if self.training else 0.0
            )
            return out.reshape(-1, self.heads * self.head_dim)
        b, n, _ = x.shape
        qkv = self.Wqkv(x).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(
            qkv[0],
            qkv[1],
            qkv[2],
            attn_mask=bias,
            dropout_p=self.p_dropout if self.training else 0.0,
            scale=1.0 / math.sqrt(self.head_dim),
        )
        return out.transpose(1, 2).reshape(b, n, self.heads * self.head_dim)


class Dnabert2SelfOutput(nn.Module):
    def __init__(self, cfg: Dnabert2Config) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, h: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(h)) + residual)  # type: ignore[no-any-return]


class Dnabert2Attention(nn.Module):
    def __init__(self, cfg: Dnabert2Config) -> None:
        super().__init__()
        self.self = Dnabert2SelfAttention(cfg)
        self.output = Dnabert2SelfOutput(cfg)

    def forward(self, x: Tensor, bias: Tensor | Packed) -> Tensor:
        return self.output(self.self(x, bias), x)  # type: ignore[no-any-return]


class Dnabert2GatedMLP(nn.Module):
    def __init__(self, cfg: Dnabert2Config) -> None:
        super().__init__()
        self.intermediate_size = cfg.intermediate_size
        # one matmul for both halves: rows [0, I) gate through GELU, rows [I, 2I) are the linear half
        self.gated_layers = nn.Linear(cfg.hidden_size, 2 * cfg.intermediate_size, bias=False)
        self.wo = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)
        self.layernorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: Tensor) -> Tensor:
        gated, linear = self.gated_layers(x).split(self.intermediate_size, dim=-1)
        h = self.dropout(F.gelu(gated) * linear)
        return self.layernorm(self.wo(h) + x)  # type: ignore[no-any-return]


class Dnabert2Layer(nn.Module):
    def __init__(self, cfg: Dnabert2Config) -> None:
        super().__init__()
        self.attention = Dnabert2Attention(cfg)
        self.mlp = Dnabert2GatedMLP(cfg)

    def forward(self, x: Tensor, bias: Tensor | Packed) -> Tensor:
        return self.mlp(self.attention(x, bias))  # type: ignore[no-any-return]


class Dnabert2Encoder(nn.Module):
    slopes: Tensor

    def __init__(self, cfg: Dnabert2Config) -> None:
        super().__init__()
        self.layer = nn.ModuleList(Dnabert2Layer(cfg) for _ in range(cfg.num_hidden_layers))
        # derived from the head count, not learned: not part of the published state dict
        self.register_buffer("slopes", alibi_slopes(cfg.num_attention_heads), persistent=False)

    def attention_bias(self, mask: Tensor, dtype: torch.dtype) -> Tensor:
        """(1 or batch, heads, L, L): ALiBi, and the most negative value at padded keys."""
        bias = alibi_bias(self.slopes, mask.shape[1], device=mask.device, dtype=dtype)[None]
        if bool(mask.all()):
            return bias
        keep = mask.bool()[:, None, None, :]
        return torch.where(keep, bias, torch.tensor(torch.finfo(dtype).min, dtype=dtype, device=mask.device))


class Dnabert2Model(nn.Module):
    """The headless encoder (``bert.*`` in the published checkpoint); no pooler, as in ``BertForMaskedLM``."""

    def __init__(self, cfg: Dnabert2Config) -> None:
        super().__init__()
        self.config = cfg
        self.attn_path = "padded"  # or "packed": see the module docstring; not part of the checkpoint
        self.embeddings = Dnabert2Embeddings(cfg)
        self.encoder = Dnabert2Encoder(cfg)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        output_hidden_states: bool = False,
    ) -> BaseModelOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        x = self.embeddings(input_ids, token_type_ids)
        if self.attn_path == "packed":
            return self._forward_packed(x, attention_mask, output_hidden_states)
        bias = self.encoder.attention_bias(attention_mask, x.dtype)
        states = [x]
        for layer in self.encoder.layer:
            x = layer(x, bias)
            states.append(x)
        keep = attention_mask[..., None].to(x.dtype)
        states = [s * keep for s in states]  # published behaviour: padded positions are exactly zero
        return BaseModelOutput(
            last_hidden_state=states[-1], hidden_states=tuple(states) if output_hidden_states else None
        )

    def _forward_packed(
        self, x: Tensor, attention_mask: Tensor, output_hidden_states: bool
    ) -> BaseModelOutput:
        p = pack(attention_mask)
        bias = alibi_bias(self.encoder.slopes, p.max_len, device=x.device, dtype=x.dtype)[None]
        p = p.with_attention(bias=bias, alibi_slopes=self.encoder.slopes)
        return run_packed(self.encoder.layer, x, p, output_hidden_states)  # type: ignore[no-any-return]


class Dnabert2PredictionHeadTransform(nn.Module):
    def __init__(self, cfg: Dnabert2Config) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        # the published head hard-codes eps 1e-12 whatever config.layer_norm_eps says
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=_HEAD_LN_EPS)

    def forward(self, x: Tensor) -> Tensor:
        return self.LayerNorm(F.gelu(self.dense(x)))  # type: ignore[no-any-return]


class Dnabert2LMPredictionHead(nn.Module):
    def __init__(self, cfg: Dnabert2Config, embedding: nn.Embedding) -> None:
        super().__init__()
        self.transform = Dnabert2PredictionHeadTransform(cfg)
        self.decoder = nn.Linear(cfg.hidden_size, cfg.vocab_size)
        self.decoder.weight = embedding.weight  # tied, as published

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.transform(x))  # type: ignore[no-any-return]


class Dnabert2OnlyMLMHead(nn.Module):
    def __init__(self, cfg: Dnabert2Config, embedding: nn.Embedding) -> None:
        super().__init__()
        self.predictions = Dnabert2LMPredictionHead(cfg, embedding)

    def forward(self, x: Tensor) -> Tensor:
        return self.predictions(x)  # type: ignore[no-any-return]


class Dnabert2ForMaskedLM(nn.Module):
    """``bert`` + ``cls.predictions``; the decoder weight is the word-embedding matrix."""

    def __init__(self, cfg: Dnabert2Config) -> None:
        super().__init__()
        self.config = cfg
        self.bert = Dnabert2Model(cfg)
        self.cls = Dnabert2OnlyMLMHead(cfg, self.bert.embeddings.word_embeddings)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        bert_init(module, self.config.initializer_range)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        labels: Tensor | None = None,
        output_hidden_states: bool = False,
    ) -> MaskedLMOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, output_hidden_states=output_hidden_states)
        logits = self.cls(out.last_hidden_state)
        loss = None
        if labels is not None:
            # As published: only positions with a label > 0 are scored, so -100 (the usual convention) and also
            # 0 ([UNK]) are skipped; logits are still returned at every position.
            scored = labels.flatten() > 0
            wide = torch.promote_types(logits.dtype, torch.float32)  # half precision up, float64 kept
            loss = F.cross_entropy(logits.flatten(0, 1)[scored].to(wide), labels.flatten()[scored])
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)


def _tiny_tokenizer(vocab_size: int, max_len: int) -> Any:
    """A BPE trained on seeded random DNA, laid out like the published tokenizer.json: only A/C/G/T have single
    tokens (N, lowercase and IUPAC codes are one [UNK] each), pairs are ``[CLS] A [SEP] B [SEP]`` with B's token
    type 1, and no decoder (decode joins tokens with spaces)."""
    tok = bpe_tokenizer(
        vocab_size,
        _SPECIALS,
        cls="[CLS]",
        sep="[SEP]",
        seed=0,
        model_max_length=max_len,
        padding_side="right",
        alphabet="ACGT",
    )
    backend = tok.backend_tokenizer
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.cls_token_id), ("[SEP]", tok.sep_token_id)],
    )
    backend.decoder = None
    return tok


def dnabert2_tokenizer(directory: Path | None, vocab_size: int, max_len: int) -> Any:
    """The checkpoint's ``tokenizer.json`` (special tokens checked and named), or the tiny one when ``None``."""
    if directory is None:
        return _tiny_tokenizer(vocab_size, max_len)
    tok = from_directory(directory, padding_side="right")
    vocab = tok.get_vocab()
    absent = [t for t in _SPECIALS if t not in vocab]
    if absent:
        raise CheckpointError(f"{directory}/tokenizer.json lacks the DNABERT-2 special tokens {absent}")
    for attr, token in zip(
        ("unk_token", "cls_token", "sep_token", "pad_token", "mask_token"), _SPECIALS, strict=True
    ):
        if getattr(tok, attr) is None:
            setattr(tok, attr, token)
    if tok.model_max_length > 100_000:  # unset in the file: transformers' "very large" sentinel
        tok.model_max_length = max_len
    return tok


def tie_decoder(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Both names of the tied embedding/decoder matrix (files may store one); different copies are an error."""
    emb, dec = "bert.embeddings.word_embeddings.weight", "cls.predictions.decoder.weight"
    out = dict(state)
    # pytorch_model.bin carries the tied matrix under both names; safetensors exports may keep only one
    if emb in out and dec in out and not torch.equal(out[emb], out[dec]):
        raise CheckpointError(f"checkpoint has different {emb} and {dec}; DNABERT-2 ties them")
    if emb in out and dec not in out:
        out[dec] = out[emb]
    if dec in out and emb not in out:
        out[emb] = out[dec]
    return out
