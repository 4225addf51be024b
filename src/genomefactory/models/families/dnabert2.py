"""DNABERT-2 (Zhou et al. 2024): a post-LN BERT encoder with ALiBi, fused QKV and a gated-GELU MLP, on DNA BPE.

Implemented natively so the published ``zhihan1996/DNABERT-2-117M`` weights load with current libraries and no
downloaded code (its remote code breaks on transformers >= 4.30 and with modern triton; MODELS.md §2.2).
Parameter names equal the published ``BertForMaskedLM`` state dict (``bert.*``, ``cls.predictions.*``).

Math per layer (post-LN): ``x = LN(x + Dense(Attn(x)))`` with scores ``q·k/√d - m_h|i-j|`` (ALiBi, no position
embeddings) plus a key-padding mask; ``x = LN(x + W_o(GELU(g) ⊙ u))`` where ``[g | u] = W_gl x`` (no bias).
Attention runs through ``scaled_dot_product_attention`` on the padded batch (``attn_path = "padded"``, the
default); that is exactly what the published unpadded kernels compute for the real tokens. ``attn_path =
"packed"`` (:mod:`genomefactory.models.layers.varlen`) runs every layer on the real tokens only, with per-sequence
ALiBi and no cross-sequence attention (flash-attn varlen on CUDA when installed); the two paths agree to float
rounding.

Shapes: ``input_ids``/``attention_mask`` (batch, length), hidden states (batch, length, hidden). Batches are
padded on the right; as in the published model, hidden states are exactly zero at padded positions.
MLM loss as published: only positions whose label is > 0 are scored (so -100 and also 0 = [UNK] are skipped).
Tokenizer: BPE (``[UNK]0 [CLS]1 [SEP]2 [PAD]3 [MASK]4``, ``[CLS] A [SEP]`` and ``[CLS] A [SEP] B [SEP]`` with B's
token type 1; only A/C/G/T are single tokens, so N, lowercase and IUPAC codes are one [UNK] per character), read
from the checkpoint's ``tokenizer.json``; tiny models train one of the same layout on seeded random DNA.

Cross-checked numerically against the published ``bert_layers.py`` (PyTorch attention path) and tokenizer:
``tests/models/test_dnabert2_reference.py`` (fp32 max |diff| < 1e-6, fp64 ~1e-15).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tokenizers import processors
from torch import Tensor, nn
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput

from ..layers.alibi import alibi_bias, alibi_slopes
from ..layers.init import bert_init
from ..layers.varlen import Packed, pack, run_packed, varlen_attention
from ..registry import ModelFamily, register
from ..tokenizers import bpe_tokenizer, from_directory

__all__ = ["DNABERT2", "Dnabert2Config", "Dnabert2ForMaskedLM", "Dnabert2Model"]

_SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
_REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
# Published values (MODELS.md §2.2). The hub's config.json (revision of 2024-02-22 on; the first upload also said
# model_type "bert") names its classes only through auto_map, and its configuration_bert.BertConfig derives from
# PretrainedConfig, so the one field the file omits, pad_token_id, is None there: no padding_idx in the word
# embeddings (the first upload derived from BertConfig and got 0). Forward outputs are the same either way; only
# the gradient of the [UNK] row (id 0) differs.
_PUBLISHED: dict[str, Any] = dict(
    vocab_size=4096,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    max_position_embeddings=512,
    alibi_starting_size=512,
    type_vocab_size=2,
    hidden_act="gelu",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.0,
    layer_norm_eps=1e-12,
    pad_token_id=None,
    initializer_range=0.02,
)
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
            raise ValueError(f"DNABERT-2 config is missing {', '.join(missing)} (got keys: {sorted(config)})")
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(
                f"DNABERT-2 config hidden_act={config['hidden_act']!r}; only 'gelu' is implemented"
            )
        if int(config["hidden_size"]) % int(config["num_attention_heads"]):
            raise ValueError(
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


class DnaBert2Family(ModelFamily):
    def build(self, config: dict[str, Any]) -> nn.Module:
        return Dnabert2ForMaskedLM(Dnabert2Config.from_dict(config))

    def base(self, model: nn.Module) -> nn.Module:
        return model.bert  # type: ignore[return-value]

    def blocks(self, base: nn.Module) -> list[nn.Module]:
        return list(base.encoder.layer)  # type: ignore[union-attr,arg-type]

    def tiny_config(self) -> dict[str, Any]:
        return {
            **_PUBLISHED,
            "vocab_size": 256,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 64,
            "max_position_embeddings": 256,
            "alibi_starting_size": 256,
        }

    def published_config(self, variant: str) -> dict[str, Any]:
        if variant not in self.variants:
            raise ValueError(f"unknown DNABERT-2 variant {variant!r}; choose from {', '.join(self.variants)}")
        return dict(_PUBLISHED)

    def read_config(self, directory: Path) -> dict[str, Any]:
        raw = super().read_config(directory)
        # keep only our fields: the published file also carries BERT-isms (position_embedding_type, use_cache, ...)
        # that bert_layers.py never reads
        config = {k: v for k, v in raw.items() if k in Dnabert2Config.__dataclass_fields__}
        return asdict(Dnabert2Config.from_dict(config))

    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        max_len = self.max_tokens(config)
        if directory is None:
            return _tiny_tokenizer(int(config["vocab_size"]), max_len)
        tok = from_directory(directory, padding_side="right")
        vocab = tok.get_vocab()
        absent = [t for t in _SPECIALS if t not in vocab]
        if absent:
            raise ValueError(f"{directory}/tokenizer.json lacks the DNABERT-2 special tokens {absent}")
        for attr, token in zip(
            ("unk_token", "cls_token", "sep_token", "pad_token", "mask_token"), _SPECIALS, strict=True
        ):
            if getattr(tok, attr) is None:
                setattr(tok, attr, token)
        if tok.model_max_length > 100_000:  # unset in the file: transformers' "very large" sentinel
            tok.model_max_length = max_len
        return tok

    def remap_state_dict(self, state: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
        emb, dec = "bert.embeddings.word_embeddings.weight", "cls.predictions.decoder.weight"
        out = dict(state)
        # pytorch_model.bin carries the tied matrix under both names; safetensors exports may keep only one
        if emb in out and dec in out and not torch.equal(out[emb], out[dec]):
            raise ValueError(f"checkpoint has different {emb} and {dec}; DNABERT-2 ties them")
        if emb in out and dec not in out:
            out[dec] = out[emb]
        if dec in out and emb not in out:
            out[emb] = out[dec]
        return out


DNABERT2 = register(
    DnaBert2Family(
        name="dnabert2",
        kind="encoder",
        description="DNABERT-2 (BERT with ALiBi and gated-GELU MLP, DNA BPE 4096)",
        variants={"117M": "zhihan1996/DNABERT-2-117M"},
        default_variant="117M",
        # appendix C's words (feed-forward layers); the paper's Table 2 count = target_modules: all (test_lora_table2_counts)
        lora_targets=("gated_layers", "wo"),
        in_out_proj=("Wqkv", "attention.output.dense"),
        pooling="mean",
        aliases=("DNABERT-2", "dnabert_2"),
    )
)
