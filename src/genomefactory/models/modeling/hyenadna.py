"""HyenaDNA modules (``HyenaDNAForCausalLM`` layout: ``hyena.backbone.*`` + ``lm_head``), generation by full
re-forwards, and the offline tokenizer; the family spec and conventions are in ``models/families/hyenadna.py``,
the Hyena operator in ``layers/hyena_operator.py``.

Shapes: ``input_ids``/``attention_mask`` (batch, length), left padding rotated away (``layers.fftconv.align_left``);
hidden states (batch, length, d_model); logits (batch, length, 16) float32.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from tokenizers import processors
from torch import Tensor, nn
from transformers.modeling_outputs import BaseModelOutputWithNoAttention, CausalLMOutput

from ...config import ConfigError
from ..families.hyenadna import _DEFAULTS, hyena_vocab
from ..family import Sampler
from ..layers.fftconv import align_left, restore_alignment
from ..layers.hyena_operator import HyenaOperator
from ..tokenizers import char_tokenizer

__all__ = ["HyenaDNAForCausalLM", "HyenaDNAModel", "generate", "greedy", "hyena_tokenizer"]


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    s = {k: config.get(k, v) for k, v in _DEFAULTS.items()}
    if s["d_inner"] is None:
        s["d_inner"] = 4 * int(s["d_model"])
    if int(s["short_filter_order"]) != 3:
        # the published operator hard-codes padding=2 for this conv: only width 3 is causal and length-preserving
        raise ConfigError(
            f"HyenaDNA config: short_filter_order={s['short_filter_order']} is not supported (the "
            "published code is only correct for 3, the value of every released checkpoint)"
        )
    if int(s["hyena_order"]) != 2:
        raise ConfigError(
            f"HyenaDNA config: hyena_order={s['hyena_order']} is not supported (published models use 2)"
        )
    emb = int(s["emb_dim"])
    if emb < 3 or emb % 2 == 0:
        raise ConfigError(f"HyenaDNA config: emb_dim must be odd and >= 3 (time, cosine, sine), got {emb}")
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


def greedy(logits: Tensor) -> Tensor:
    """(batch, vocab) -> (batch,) most likely ids."""
    return logits.argmax(dim=-1)


def hyena_tokenizer(max_tokens: int) -> Any:
    """The published character tokenizer rebuilt offline (its vocabulary is fixed; the hub's is remote code)."""
    tok = char_tokenizer(
        hyena_vocab(),
        "$A [SEP]",
        "left",
        max_tokens,
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


@torch.no_grad()
def generate(
    model: nn.Module, input_ids: Tensor, max_new_tokens: int, sampler: Sampler | None = None
) -> Tensor:
    """Append ``max_new_tokens`` sampled ids to (batch, length) unpadded prompts by full re-forwards.

    Tokenize prompts without the trailing ``[SEP]`` (``add_special_tokens=False``). ``sampler`` maps
    (batch, vocab) float logits to (batch,) ids; default greedy. Returns (batch, length + max_new_tokens).
    """
    pick = sampler or greedy
    # absent on wrappers (peft); the forward pass checks the length then
    settings = getattr(model, "settings", None)
    if settings is not None and input_ids.shape[1] + max_new_tokens > int(settings["max_seq_len"]):
        raise ConfigError(
            f"HyenaDNA.generate: prompt + new tokens exceed max_seq_len={settings['max_seq_len']}"
        )
    ids = input_ids
    for _ in range(max_new_tokens):
        logits = model(ids).logits[:, -1]
        ids = torch.cat([ids, pick(logits).to(ids.dtype)[:, None]], dim=1)
    return ids
