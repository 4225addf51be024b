"""HyenaDNA (HazyResearch / LongSafari): a causal decoder of Hyena operators over single nucleotides.

Native re-implementation of the ``-hf`` checkpoints (``LongSafari/hyenadna-*-seqlen-hf``) with their published
parameter names (``hyena.backbone.*``, ``lm_head.weight``); no remote code. See MODELS.md §2.1.

Conventions
- Tokens: one per character, ids ``[CLS]0 [SEP]1 [BOS]2 [MASK]3 [PAD]4 [RESERVED]5 [UNK]6 A7 C8 G9 T10 N11``;
  the tokenizer appends ``[SEP]`` (no ``[CLS]``; a pair is ``A [SEP] B [SEP]``; ``[SEP]`` is also the eos
  token), pads on the **left**, and is case-sensitive like the published ``tokenization_hyena.py`` (lowercase
  bases are ``[UNK]``; genomefactory upper-cases sequences when it reads them). The embedding table has 16
  rows (12 padded to a multiple of 8).
- Shapes: hidden states are (batch, length, d_model); the Hyena operator works channels-first (batch, d, length).
- Length: at most ``max_seq_len`` tokens (the implicit filter's positional table, ``layers/hyena_operator.py``).
- Padding: the model is causal, so a left-padded batch is rotated to put each sequence at position 0 before the
  forward pass and rotated back afterwards (``layers.fftconv.align_left``): the hidden states of real tokens are
  exactly those of the sequence alone. The published code instead lets the pads flow into the sequence.
- ``hidden_states``: embeddings, blocks 1..n-1, final-normed output (n+1, the registry contract); the published
  code returns n+2, adding the last block's raw output before ``ln_f``. ``embed_dropout`` is never applied (as in
  the published ``-hf`` forward; the original training code dropped the embeddings).
- Pooling default ``mean``: every position of a causal model carries a prefix summary; averaging the real positions
  (the ``pool`` mode of the HyenaDNA fine-tuning recipes) is more stable than the single last token.
- Generation: no recurrent state; :meth:`HyenaDNAFamily.generate` re-runs the full causal forward per new token.

Architecture: pre-LN blocks ``h += Hyena(LN(h)); h += MLP(LN(h))`` with a GELU(tanh) MLP, then a final
LayerNorm; the order-2 Hyena operator and its implicit filter are in ``layers/hyena_operator.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tokenizers import processors
from torch import Tensor, nn
from transformers.modeling_outputs import BaseModelOutputWithNoAttention, CausalLMOutput

from ..layers.fftconv import align_left, restore_alignment
from ..layers.hyena_operator import HyenaOperator
from ..registry import ModelFamily, register
from ..tokenizers import char_tokenizer

__all__ = ["HYENADNA", "HyenaDNAFamily", "HyenaDNAForCausalLM", "HyenaDNAModel", "hyena_vocab"]

# Defaults of the published HyenaConfig class (used only for fields a config.json omits).
_DEFAULTS: dict[str, Any] = dict(
    vocab_size=12,
    d_model=256,
    d_inner=None,
    n_layer=12,
    max_seq_len=1024,
    emb_dim=3,
    filter_order=64,
    short_filter_order=3,
    hyena_order=2,
    num_inner_mlps=2,
    activation_freq=1,
    train_freq=True,
    use_bias=True,
    embed_dropout=0.1,
    hyena_dropout=0.0,
    hyena_filter_dropout=0.0,
    layer_norm_epsilon=1e-5,
    initializer_range=0.02,
    pad_vocab_size_multiple=8,
)
_PUBLISHED_COMMON: dict[str, Any] = dict(
    model_type="hyenadna",
    vocab_size=12,
    emb_dim=5,
    activation_freq=10,
    filter_order=64,
    num_inner_mlps=2,
    hyena_order=2,
    short_filter_order=3,
)
# variant -> (d_model, n_layer, context length in bases); max_seq_len = length + 2 (MODELS.md §2.1 table)
_VARIANTS: dict[str, tuple[int, int, int]] = {
    "tiny-1k": (128, 2, 1024),
    "tiny-1k-d256": (256, 2, 1024),
    "tiny-16k": (128, 2, 16384),
    "small-32k": (256, 4, 32768),
    "medium-160k": (256, 8, 160000),
    "medium-450k": (256, 8, 450000),
    "large-1m": (256, 8, 1000000),
}
_HUB = {
    "tiny-1k": "tiny-1k-seqlen",
    "tiny-1k-d256": "tiny-1k-seqlen-d256",
    "tiny-16k": "tiny-16k-seqlen-d128",
    "small-32k": "small-32k-seqlen",
    "medium-160k": "medium-160k-seqlen",
    "medium-450k": "medium-450k-seqlen",
    "large-1m": "large-1m-seqlen",
}
_SHARED_FREQ = re.compile(r"(.*\.implicit_filter\.)([35])\.freq$")


def hyena_vocab() -> dict[str, int]:
    tokens = ["[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]", "[UNK]", "A", "C", "G", "T", "N"]
    return {t: i for i, t in enumerate(tokens)}


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    s = {k: config.get(k, v) for k, v in _DEFAULTS.items()}
    if s["d_inner"] is None:
        s["d_inner"] = 4 * int(s["d_model"])
    if int(s["short_filter_order"]) != 3:
        # the published operator hard-codes padding=2 for this conv: only width 3 is causal and length-preserving
        raise ValueError(
            f"HyenaDNA config: short_filter_order={s['short_filter_order']} is not supported (the "
            "published code is only correct for 3, the value of every released checkpoint)"
        )
    if int(s["hyena_order"]) != 2:
        raise ValueError(
            f"HyenaDNA config: hyena_order={s['hyena_order']} is not supported (published models use 2)"
        )
    emb = int(s["emb_dim"])
    if emb < 3 or emb % 2 == 0:
        raise ValueError(f"HyenaDNA config: emb_dim must be odd and >= 3 (time, cosine, sine), got {emb}")
    mult = int(s["pad_vocab_size_multiple"])
    s["padded_vocab"] = mult * math.ceil(int(s["vocab_size"]) / mult)
    return s


class _Mlp(nn.Module):
    def __init__(self, s: dict[str, Any]) -> None:
        super().__init__()
        self.fc1 = nn.Linear(int(s["d_model"]), int(s["d_inner"]))
        self.fc2 = nn.Linear(int(s["d_inner"]), int(s["d_model"]))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class _Block(nn.Module):
    def __init__(self, s: dict[str, Any]) -> None:
        super().__init__()
        d = int(s["d_model"])
        self.mixer = HyenaOperator(s)
        # per-block norms use eps 1e-5 whatever layer_norm_epsilon says (published code)
        self.norm1 = nn.LayerNorm(d)
        self.mlp = _Mlp(s)
        self.norm2 = nn.LayerNorm(d)

    def forward(self, h: Tensor) -> Tensor:
        h = h + self.mixer(self.norm1(h))
        return h + self.mlp(self.norm2(h))


class _Embeddings(nn.Module):
    def __init__(self, s: dict[str, Any]) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(int(s["padded_vocab"]), int(s["d_model"]))


class _Backbone(nn.Module):
    def __init__(self, s: dict[str, Any]) -> None:
        super().__init__()
        self.embeddings = _Embeddings(s)
        self.dropout = nn.Dropout(float(s["embed_dropout"]))  # kept for parity; unused, as published
        self.layers = nn.ModuleList(_Block(s) for _ in range(int(s["n_layer"])))
        self.ln_f = nn.LayerNorm(int(s["d_model"]), eps=float(s["layer_norm_epsilon"]))


class HyenaDNAModel(nn.Module):
    """Headless HyenaDNA (``hyena.*`` in the published state dict)."""

    def __init__(self, s: dict[str, Any]) -> None:
        super().__init__()
        self.backbone = _Backbone(s)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        output_hidden_states: bool = False,
        **_: Any,
    ) -> BaseModelOutputWithNoAttention:
        ids, shifts = align_left(input_ids, attention_mask)
        bb = self.backbone
        # no embedding dropout: the published -hf forward never applies backbone.dropout
        h = bb.embeddings.word_embeddings(ids)
        states = [h]
        for layer in bb.layers:
            h = layer(h)
            states.append(h)
        h = bb.ln_f(h)
        states[-1] = h  # last entry is the normalised output, as in transformers' decoders
        hidden = tuple(restore_alignment(x, shifts) for x in states) if output_hidden_states else None
        return BaseModelOutputWithNoAttention(
            last_hidden_state=restore_alignment(h, shifts), hidden_states=hidden
        )


class HyenaDNAForCausalLM(nn.Module):
    """The published ``HyenaDNAForCausalLM`` layout: ``hyena`` + an untied ``lm_head`` (16 rows)."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        s = _settings(config)
        self.settings = s
        self.hyena = HyenaDNAModel(s)
        self.lm_head = nn.Linear(int(s["d_model"]), int(s["padded_vocab"]), bias=False)
        self._init_weights(float(s["initializer_range"]))

    def _init_weights(self, std: float) -> None:
        # Projections and embeddings as in the published code; the implicit filter MLP keeps PyTorch's default
        # init so that a random model has a non-trivial long kernel (random init is for tests and demos).
        for name, m in self.named_modules():
            if "implicit_filter" in name:
                continue
            if isinstance(m, nn.Linear | nn.Embedding):
                nn.init.normal_(m.weight, std=std)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
        output_hidden_states: bool = False,
        **_: Any,
    ) -> CausalLMOutput:
        out = self.hyena(input_ids, attention_mask=attention_mask, output_hidden_states=output_hidden_states)
        logits = self.lm_head(out.last_hidden_state).float()
        loss = None
        if labels is not None:  # next-token loss; positions labelled -100 are ignored
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))
        return CausalLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)


Sampler = Callable[[Tensor], Tensor]


def greedy(logits: Tensor) -> Tensor:
    """(batch, vocab) -> (batch,) most likely ids."""
    return logits.argmax(dim=-1)


class HyenaDNAFamily(ModelFamily):
    def build(self, config: dict[str, Any]) -> nn.Module:
        return HyenaDNAForCausalLM(config)

    def base(self, model: nn.Module) -> nn.Module:
        return model.hyena  # type: ignore[return-value]

    def blocks(self, base: nn.Module) -> list[nn.Module]:
        return list(base.backbone.layers)  # type: ignore[union-attr,arg-type]

    def hidden_size(self, config: dict[str, Any]) -> int:
        return int(config.get("d_model", _DEFAULTS["d_model"]))

    def max_tokens(self, config: dict[str, Any]) -> int:
        return int(config.get("max_seq_len", _DEFAULTS["max_seq_len"]))

    def tiny_config(self) -> dict[str, Any]:
        return {
            **_PUBLISHED_COMMON,
            "d_model": 32,
            "n_layer": 2,
            "d_inner": 128,
            "max_seq_len": 1026,
            "filter_order": 16,
        }

    def published_config(self, variant: str) -> dict[str, Any]:
        if variant not in _VARIANTS:
            raise ValueError(f"unknown HyenaDNA variant {variant!r}; choose from {', '.join(_VARIANTS)}")
        d, n, length = _VARIANTS[variant]
        return {**_PUBLISHED_COMMON, "d_model": d, "n_layer": n, "d_inner": 4 * d, "max_seq_len": length + 2}

    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        # the published tokenizer is remote code; its vocabulary is fixed, so it is rebuilt here offline
        tok = char_tokenizer(
            hyena_vocab(),
            "$A [SEP]",
            "left",
            self.max_tokens(config),
            unk_token="[UNK]",
            pad_token="[PAD]",
            sep_token="[SEP]",
            cls_token="[CLS]",
            mask_token="[MASK]",
            bos_token="[BOS]",
            eos_token="[SEP]",
        )
        # a pair is ``A [SEP] B [SEP]`` as the published build_inputs_with_special_tokens writes it
        sep = [("[SEP]", hyena_vocab()["[SEP]"])]
        tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
            single="$A [SEP]", pair="$A [SEP] $B:0 [SEP]:0", special_tokens=sep
        )
        return tok

    def remap_state_dict(self, state: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
        # the checkpoint stores the shared activation frequency once, under slot 1; our state dict names all three
        out = dict(state)
        for key in model.state_dict():
            m = _SHARED_FREQ.match(key)
            if m and key not in out and f"{m.group(1)}1.freq" in out:
                out[key] = out[f"{m.group(1)}1.freq"]
        return out

    def checkpoint_state(self, model: nn.Module, config: dict[str, Any]) -> dict[str, Tensor]:
        # published layout: the shared freq only under slot 1 (safetensors refuses aliased tensors)
        return {k: v for k, v in model.state_dict().items() if not _SHARED_FREQ.match(k)}

    @torch.no_grad()
    def generate(
        self,
        model: nn.Module,
        input_ids: Tensor,
        max_new_tokens: int,
        sampler: Sampler | None = None,
    ) -> Tensor:
        """Append ``max_new_tokens`` sampled ids to (batch, length) unpadded prompts by full re-forwards.

        Tokenize prompts without the trailing ``[SEP]`` (``add_special_tokens=False``). ``sampler`` maps
        (batch, vocab) float logits to (batch,) ids; default greedy. Returns (batch, length + max_new_tokens).
        """
        pick = sampler or greedy
        # absent on wrappers (peft); the forward pass checks the length then
        settings = getattr(model, "settings", None)
        if settings is not None and input_ids.shape[1] + max_new_tokens > int(settings["max_seq_len"]):
            raise ValueError(
                f"HyenaDNA.generate: prompt + new tokens exceed max_seq_len={settings['max_seq_len']}"
            )
        ids = input_ids
        for _ in range(max_new_tokens):
            logits = model(ids).logits[:, -1]
            ids = torch.cat([ids, pick(logits).to(ids.dtype)[:, None]], dim=1)
        return ids


HYENADNA = register(
    HyenaDNAFamily(
        name="hyenadna",
        kind="decoder",
        description="HyenaDNA (implicit long convolutions, single-nucleotide tokens, 1k-1M context)",
        variants={v: f"LongSafari/hyenadna-{h}-hf" for v, h in _HUB.items()},
        default_variant="medium-160k",
        lora_targets=("mixer.in_proj", "mixer.out_proj"),
        in_out_proj=("mixer.in_proj", "mixer.out_proj"),
        pooling="mean",
        padding_side="left",
        aliases=("HyenaDNA", "hyena_dna", "hyena"),
    )
)
