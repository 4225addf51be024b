"""The model side of variant scoring: loading, tokenizing, and batched forward passes with de-duplication.

Everything the scores need from a model is asked here, generically (no family names): whether it is a causal
decoder (``ModelFamily.is_decoder``), its mask token (``tokenizer.mask_token_id``), whether
its forward returns per-token ``logits`` (an LM head), how tokens map to bases (the tokenizer's character
offsets), and the task model of a fine-tuned run directory (``genomefactory.train.model_io.load_run_model``).

:meth:`ModelHandle.batched` is the one forward loop: identical token sequences are computed once (the shared
reference window of a tile, the masked window of a position with several ALT alleles), the distinct sequences
are sorted by length and run in padded batches of ``batch_size`` on the tokenizer's padding side. Shapes:
ids and mask (batch, length); logits (batch, length, vocab); hidden states (batch, length, hidden).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from ..models.encoding import BatchEncoder, Encoded
from ..models.loading import ModelConfig, default_device
from ..models.registry import Backbone

__all__ = ["ModelHandle", "load_handle", "pool_states"]

T = TypeVar("T")


@dataclass
class ModelHandle:
    """A loaded model (backbone, and the task model of a fine-tuned run) with its tokenizer and device."""

    backbone: Backbone
    device: torch.device
    dtype: torch.dtype = torch.float32
    batch_size: int = 32
    special_tokens: bool = True
    task: nn.Module | None = None  # the fine-tuned TaskModel of a run directory
    run_meta: dict[str, Any] | None = None
    _lm_head: bool | None = field(default=None, repr=False)
    _encoder: BatchEncoder | None = field(default=None, repr=False)
    _head: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.tok = self.backbone.tokenizer
        self.model = self.backbone.model.to(device=self.device, dtype=self.dtype).eval()
        self.base = self.backbone.family.base(self.model)
        if self.task is not None:
            self.task = self.task.to(device=self.device, dtype=self.dtype).eval()
        self.pad_id = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        self.special_ids = frozenset(self.tok.all_special_ids or [])
        self.left = self.tok.padding_side == "left"

    # -- what the model is --------------------------------------------------------------------------
    @property
    def is_decoder(self) -> bool:
        return self.backbone.family.is_decoder(self.backbone.config)

    @property
    def mask_id(self) -> int | None:
        mid = self.tok.mask_token_id
        return None if mid is None else int(mid)

    @property
    def max_tokens(self) -> int:
        return int(self.backbone.max_tokens)

    @property
    def task_max_tokens(self) -> int:
        assert self.run_meta is not None
        return int(self.run_meta.get("max_length", self.max_tokens))

    def has_lm_head(self) -> bool:
        """True when the full model's forward returns per-token logits (an MLM / LM head)."""
        if self._lm_head is None:
            ids = self.encode("ACGTACGT")[0]
            x = torch.tensor([ids], device=self.device)
            with torch.inference_mode():
                out = self.model(input_ids=x, attention_mask=torch.ones_like(x))
            logits = getattr(out, "logits", None)
            self._lm_head = isinstance(logits, torch.Tensor) and logits.dim() == 3
        return self._lm_head

    def token_head(self) -> nn.Module | None:
        """The full model's per-token output head, when it can be found and is verified; else None.

        Generic search (no family names): a direct child of the full model that is not the headless backbone
        and maps the backbone's final hidden states to exactly the full forward's logits (all positions, and a
        slice of positions, so it works token by token). With it, masked_marginal computes logits only at the
        masked tokens; without it, the full forward is used (same values, more work)."""
        if self._head is None:
            self._head = self._find_head() or False
        return self._head or None

    def _find_head(self) -> nn.Module | None:
        ids = self.encode("ACGTTGCAAGCTTCGA")[0]
        x = torch.tensor([ids], device=self.device)
        m = torch.ones_like(x)
        with torch.inference_mode():
            full = self.model(input_ids=x, attention_mask=m)
            logits = getattr(full, "logits", None)
            if not isinstance(logits, torch.Tensor) or logits.dim() != 3:
                return None
            hid = self.hidden(x, m, [-1])[0].to(self.dtype)
            for child in self.model.children():
                if child is self.base:
                    continue
                try:
                    out, part = child(hid), child(hid[:, 1:4])
                except Exception:  # not a head taking hidden states: keep looking
                    continue
                if (
                    isinstance(out, torch.Tensor)
                    and out.shape == logits.shape
                    and torch.allclose(out.float(), logits.float(), atol=1e-5, rtol=1e-5)
                    and torch.allclose(part.float(), logits[:, 1:4].float(), atol=1e-5, rtol=1e-5)
                ):
                    return child
        return None

    @property
    def pooling(self) -> str:
        return str(self.backbone.family.pooling)

    # -- tokens ---------------------------------------------------------------------------------------
    def encode(self, seq: str, special: bool | None = None) -> Encoded:
        """(ids, character offsets, special-token mask) of ``seq``."""
        return self.encode_many([seq], special)[0]

    def ids(self, seq: str, special: bool | None = None) -> list[int]:
        return self.ids_many([seq], special)[0]

    def encode_many(self, seqs: Sequence[str], special: bool | None = None) -> list[Encoded]:
        """(ids, character offsets, special-token mask) of many sequences in one tokenizer call."""
        if self._encoder is None:
            self._encoder = BatchEncoder(self.tok)
        return self._encoder.encode(seqs, self.special_tokens if special is None else special)

    def ids_many(self, seqs: Sequence[str], special: bool | None = None) -> list[list[int]]:
        """Token ids of many sequences in one tokenizer call."""
        return [ids for ids, _, _ in self.encode_many(seqs, special)]

    # -- forward passes -------------------------------------------------------------------------------
    def batched(
        self, seqs: Sequence[Sequence[int]], fn: Callable[[torch.Tensor, torch.Tensor], Sequence[T]]
    ) -> list[T]:
        """``fn(ids, mask)`` -> one result per row, for every sequence; each distinct sequence runs once.

        Rows are padded (``pad_token_id``, mask 0) on the tokenizer's padding side; ``fn`` runs under
        ``torch.inference_mode`` and must ignore padded positions (every family's forward takes the mask)."""
        index: dict[tuple[int, ...], int] = {}
        keys = [index.setdefault(tuple(s), len(index)) for s in seqs]
        uniq = list(index)
        order = sorted(range(len(uniq)), key=lambda i: len(uniq[i]))
        results: list[Any] = [None] * len(uniq)
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            width = max(len(uniq[i]) for i in idx)
            pads = [width - len(uniq[i]) for i in idx]
            if self.left:
                rows = [[self.pad_id] * p + list(uniq[i]) for p, i in zip(pads, idx, strict=True)]
                masks = [[0] * p + [1] * (width - p) for p in pads]
            else:
                rows = [list(uniq[i]) + [self.pad_id] * p for p, i in zip(pads, idx, strict=True)]
                masks = [[1] * (width - p) + [0] * p for p in pads]
            ids = torch.tensor(rows, dtype=torch.long, device=self.device)
            mask = torch.tensor(masks, dtype=torch.long, device=self.device)
            with torch.inference_mode():
                out = fn(ids, mask)
            for row, i in enumerate(idx):
                results[i] = out[row]
        return [results[k] for k in keys]

    def logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-token logits of the full model (LM / MLM head), float32."""
        return self.model(input_ids=ids, attention_mask=mask).logits.float()  # type: ignore[no-any-return]

    def hidden(self, ids: torch.Tensor, mask: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
        """Hidden states of the headless backbone at ``layers`` (-1 = final hidden state), float32."""
        fam = self.backbone.family
        out = fam.encode(self.base, ids, mask, output_hidden_states=any(la != -1 for la in layers))
        last = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
        return [(last if la == -1 else out.hidden_states[la]).float() for la in layers]

    def task_logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        assert self.task is not None
        return self.task(input_ids=ids, attention_mask=mask).logits.float()  # type: ignore[no-any-return]


def pool_states(hidden: torch.Tensor, mask: torch.Tensor | None, how: str) -> torch.Tensor:
    """(batch, length, hidden) -> (batch, hidden) over real tokens (the inference engine's mask-aware pooling)."""
    from ..models.pooling import pool

    return pool(hidden, mask, how)


def _dtype(precision: str, device: torch.device) -> torch.dtype:
    from ..infer.embed import resolve_dtype

    return resolve_dtype(precision, device)


def _refuse_per_base(meta: Path, key: str) -> None:
    """A per-base run (one output per nucleotide) has no sequence-level prediction to take alt - ref of."""
    import json

    from ..errors import DataError
    from ..train.task_types import is_per_base

    task = str(json.loads(meta.read_text()).get("task_type", ""))
    if is_per_base(task):
        raise DataError(
            f"{key} {meta.parent.parent} is a {task} run (one output per base); variant scores need a "
            "sequence-level classification or regression run: use a model's zero-shot scores instead, or "
            "predict the per-base tracks of the REF and ALT windows with `inference` (mode: predict)"
        )


def load_handle(
    cfg: ModelConfig,
    *,
    seed: int = 0,
    device: str | torch.device | None = None,
    precision: str = "fp32",
    batch_size: int = 32,
    special_tokens: bool = True,
) -> ModelHandle:
    """Load a registered model (``load_for_inference``) or a fine-tuned run directory (``load_run_model``)."""
    dev = torch.device(device) if device is not None else default_device()
    dtype = _dtype(precision, dev)
    if cfg.path and (Path(cfg.path) / "model").is_dir():
        from ..models.detect import check_run_meta
        from ..train.model_io import load_run_model

        meta = check_run_meta(cfg.path, "model.path")  # a damaged run is one clear line, not a KeyError
        _refuse_per_base(meta, "model.path")
        run = load_run_model(cfg.path)
        return ModelHandle(run.backbone, dev, dtype, batch_size, special_tokens, run.model, dict(run.meta))
    from ..infer.embed import load_for_inference

    return ModelHandle(load_for_inference(cfg, seed), dev, dtype, batch_size, special_tokens)
