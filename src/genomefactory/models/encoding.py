"""Batch encoding with character offsets, shared by every command that maps tokens back to bases.

transformers' tokenizer wrapper converts each encoding's offsets in Python (about 0.5 ms a sequence); the fast
tokenizer's Rust backend gives the same ids, offsets and special-token masks from one ``encode_batch`` call. The
backend is used through a private copy with padding and truncation switched off, so a tokenizer saved with
either enabled never pads or silently truncates here (callers check lengths themselves).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["BatchEncoder", "Encoded", "KmerIds"]

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


class KmerIds:
    """Token ids of plain ``ACGT`` sequences computed with numpy for char (k=1) and non-overlapping k-mer tokenizers.

    The Rust tokenizer spends most of its time per sequence in the pre-tokenizer's regex (about 40 us for 100 bp
    with NT's 6-mer split); reading every k bases as one base-4 number and looking it up in a table built from the
    tokenizer's own vocabulary gives the same ids a hundred times faster. Only what the family declares is used
    (``tokenizer_kind`` char/kmer and ``kmer``), and the path switches itself off unless it reproduces the tokenizer
    on probe sequences of every length residue (special tokens included), so a tokenizer that does anything else
    (other special-token templates, lower case, merges) keeps its own encoding. Sequences with other letters (N,
    IUPAC codes) are left to the tokenizer: ``ids`` returns None for them.
    """

    def __init__(self, tokenizer: Any, k: int, reference: BatchEncoder) -> None:
        import numpy as np

        self.k = k
        vocab = tokenizer.get_vocab()
        self.ok = all(b in vocab for b in "ACGT")
        self.prefix: list[int] = []
        self.suffix: list[int] = []
        if not self.ok:
            return
        lut = np.full(256, -1, dtype=np.int64)
        for code, base in enumerate("ACGT"):
            lut[ord(base)] = code
        self._lut = lut
        singles = np.array([vocab[b] for b in "ACGT"], dtype=np.int64)
        self._singles = singles
        if k > 1:
            words = ["".join("ACGT"[(i >> (2 * (k - 1 - j))) & 3] for j in range(k)) for i in range(4**k)]
            if not all(w in vocab for w in words):
                self.ok = False
                return
            self._table = np.array([vocab[w] for w in words], dtype=np.int64)
        probe_ids, _, special = reference.encode(["A" * k])[0]
        content = [i for i, s in enumerate(special) if not s]
        lo, hi = (content[0], content[-1]) if content else (len(special), len(special) - 1)
        self.prefix, self.suffix = probe_ids[:lo], probe_ids[hi + 1 :]
        rng = np.random.default_rng(0)
        probes = ["".join(rng.choice(list("ACGT"), size=n)) for n in (*range(1, 3 * k + 2), 16, 33, 64)]
        expected = [e[0] for e in reference.encode(probes)]
        self.ok = self.ids(probes) == expected

    def n_tokens(self, length: int) -> int:
        return len(self.prefix) + length // self.k + length % self.k + len(self.suffix)

    def ids(self, seqs: Sequence[str]) -> list[list[int] | None]:
        """Ids with special tokens for each sequence of only A, C, G, T; None for any other sequence."""
        import numpy as np

        out: list[list[int] | None] = [None] * len(seqs)
        if not self.ok:
            return out
        by_length: dict[int, list[int]] = {}
        for i, s in enumerate(seqs):
            if s and not s.strip("ACGT"):  # nothing left after stripping A, C, G, T: only those letters
                by_length.setdefault(len(s), []).append(i)
        k = self.k
        for length, rows in by_length.items():
            raw = np.frombuffer("".join(seqs[i] for i in rows).encode("ascii"), dtype=np.uint8)
            codes = self._lut[raw].reshape(len(rows), length)
            clean: Any = (codes >= 0).all(axis=1)
            whole = length // k * k
            parts = [np.broadcast_to(np.array(self.prefix, dtype=np.int64), (len(rows), len(self.prefix)))]
            if k > 1:
                weights = 4 ** np.arange(k - 1, -1, -1, dtype=np.int64)
                words = codes[:, :whole].reshape(len(rows), -1, k) @ weights
                parts.append(self._table[np.clip(words, 0, None)])
            parts.append(self._singles[np.clip(codes[:, whole if k > 1 else 0 :], 0, None)])
            parts.append(
                np.broadcast_to(np.array(self.suffix, dtype=np.int64), (len(rows), len(self.suffix)))
            )
            ids = np.concatenate(parts, axis=1).tolist()
            for j, r in enumerate(rows):
                if clean[j]:
                    out[r] = ids[j]
        return out
