"""Batch encoding with character offsets, shared by every command that maps tokens back to bases.

transformers' tokenizer wrapper converts each encoding's offsets in Python (about 0.5 ms a sequence); the fast
tokenizer's Rust backend gives the same ids, offsets and special-token masks from one ``encode_batch`` call. The
backend is used through a private copy with padding and truncation switched off, so a tokenizer saved with
either enabled never pads or silently truncates here (callers check lengths themselves).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["BatchEncoder", "Encoded"]

Encoded = tuple[list[int], list[tuple[int, int]], list[int]]  # ids, (start, end) offsets, special-token mask


class BatchEncoder:
    """``encode(seqs, add_special_tokens)`` -> one :data:`Encoded` per sequence, in input order."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._backend: Any = None  # None: not built yet; False: the tokenizer has no Rust backend

    def backend(self) -> Any:
        """The private backend copy (padding and truncation off), or None for a slow tokenizer."""
        if self._backend is None:
            backend = getattr(self.tokenizer, "backend_tokenizer", None)
            if backend is None:
                self._backend = False
            else:
                from tokenizers import Tokenizer

                copy = Tokenizer.from_str(backend.to_str())
                copy.no_padding()
                copy.no_truncation()
                self._backend = copy
        return self._backend or None

    def encode(self, seqs: Sequence[str], add_special_tokens: bool = True) -> list[Encoded]:
        if not seqs:
            return []
        backend = self.backend()
        if backend is not None:
            encs = backend.encode_batch(list(seqs), add_special_tokens=add_special_tokens)
            return [(list(e.ids), [tuple(o) for o in e.offsets], list(e.special_tokens_mask)) for e in encs]
        e = self.tokenizer(
            list(seqs),
            add_special_tokens=add_special_tokens,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            verbose=False,
        )
        return [
            (list(i), [tuple(o) for o in off], list(sp))
            for i, off, sp in zip(e["input_ids"], e["offset_mapping"], e["special_tokens_mask"], strict=True)
        ]
