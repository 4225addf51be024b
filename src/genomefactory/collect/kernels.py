"""Vectorised per-row kernels over a :class:`~genomefactory.collect.segment.SeqBatch` byte matrix.

Base counts (columns A, C, G, T, ambiguous; padding excluded), overlapping k-mer counts, and strand-aware row
hashes for duplicate detection. Counting compares a chunk with one value at a time and sums the mask as uint64
words (eight byte counters per add); no per-base Python loop. Hashes only pre-filter: rows whose hash is shared
are compared byte by byte by the caller, so a collision costs time but never drops a row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from ..errors import DataError
from .segment import SeqBatch

_RC = bytes.maketrans(b"ACGTNRYSWKMBDHV", b"TGCANYRSWMKVHDB")
_COMPLEMENT = np.frombuffer(bytes(range(256)).translate(_RC), dtype=np.uint8)  # padding 0 stays 0
_EDGE = 32  # bases from each end that go into the duplicate hash
_CHUNK = 1 << 18  # bases per chunk: keeps the byte masks in cache
_CODE_MASK = np.uint64(0x0303030303030303)
_IS_ACGT = np.zeros(256, dtype=bool)
_IS_ACGT[np.frombuffer(b"ACGT", dtype=np.uint8)] = True


def _padded_chunks(mat: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
    """Row chunks of ``mat`` as C-contiguous uint8 blocks whose width is a multiple of 8 (extra columns are 0)."""
    n, w = mat.shape
    w8 = -(-max(w, 1) // 8) * 8
    step = max(1, _CHUNK // w8)
    for lo in range(0, n, step):
        sub = mat[lo : lo + step]
        if w8 != w or not sub.flags.c_contiguous:
            block = np.zeros((sub.shape[0], w8), dtype=np.uint8)
            block[:, :w] = sub
            sub = block
        yield slice(lo, lo + sub.shape[0]), sub


def _count_equal(block: np.ndarray, values: Iterable[int]) -> np.ndarray:
    """(rows, len(values)) int64: occurrences of each byte value per row of a block from :func:`_padded_chunks`.

    An equality mask viewed as uint64 words is eight byte-lane counters summed at once (SWAR); a lane holds at
    most 255, so words are summed 255 at a time before the lanes are added up.
    """
    vals = list(values)
    eq = np.empty(block.shape, dtype=bool)
    words = eq.view(np.uint64)
    lanes = np.empty((len(vals), block.shape[0]), dtype=np.uint64)
    out = np.zeros((block.shape[0], len(vals)), dtype=np.int64)
    for c in range(0, block.shape[1] // 8, 255):
        for i, v in enumerate(vals):
            np.equal(block, v, out=eq)
            np.add.reduce(words[:, c : c + 255], axis=1, out=lanes[i])
        out += lanes.view(np.uint8).reshape(len(vals), -1, 8).sum(axis=2, dtype=np.int64).T
    return out


def base_counts(batch: SeqBatch) -> np.ndarray:
    """(n, 5) counts of A, C, G, T and ambiguous codes per row (padding excluded); cached on the batch."""
    if batch.counts is not None:
        return batch.counts
    out = np.zeros((len(batch), 5), dtype=np.int64)
    for sl, block in _padded_chunks(batch.mat):
        out[sl, :4] = _count_equal(block, b"ACGT")
    out[:, 4] = batch.lengths - out[:, :4].sum(axis=1)
    batch.counts = out
    return out


def gc_fraction(counts: np.ndarray) -> np.ndarray:
    """GC among unambiguous bases per row; NaN where a row has no A/C/G/T."""
    acgt = counts[:, :4].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(acgt > 0, (counts[:, 1] + counts[:, 2]) / np.maximum(acgt, 1), np.nan)


def _kmer_keys(block: np.ndarray, k: int) -> np.ndarray:
    """k-mer index starting at every column of a block (bytes past the block read as padding, code 0)."""
    words = block.view(np.uint64)
    code = ((words >> np.uint64(1)) & _CODE_MASK).view(np.uint8)
    keys = code.copy()
    for i in range(1, k):
        keys.view(np.uint64)[...] <<= np.uint64(2)  # every byte is < 64 here, so no bit crosses into the next
        keys[:, :-i] |= code[:, i:]
    return keys


def _drop_invalid(
    counts: np.ndarray,
    keys: np.ndarray,
    block: np.ndarray,
    lengths: np.ndarray,
    ambiguous: np.ndarray,
    k: int,
) -> None:
    """Remove from ``counts`` (in place) the k-mers that run past a row's end or cover an ambiguous code."""
    width = keys.shape[1]
    counts[:, 0] -= width - lengths  # k-mers starting in the padding read only zeros: key 0
    rows = np.arange(lengths.size)
    for back in range(1, k):  # k-mers that start inside the row and end in the padding
        j = lengths - back
        ok = j >= 0
        counts[rows[ok], keys[rows[ok], j[ok]]] -= 1
    amb = np.flatnonzero(ambiguous)
    if amb.size:
        bad = ~_IS_ACGT[block[amb]]
        window = bad.copy()
        for t in range(1, k):
            window[:, :-t] |= bad[:, t:]
        window &= np.arange(width) < (lengths[amb] - k + 1)[:, None]
        r, j = np.nonzero(window)
        np.subtract.at(counts, (amb[r], keys[amb[r], j]), 1)


def kmer_counts(batch: SeqBatch, k: int) -> np.ndarray:
    """(n, 4**k) int64 overlapping k-mer counts per row; k-mers with ambiguous bases or padding are skipped.

    Bases are coded arithmetically as ``(byte >> 1) & 3`` (A 0, C 1, T 2, G 3: a bijection on ACGT, so the
    column order is A, C, T, G-based rather than alphabetical), eight bases per uint64 word. Every column of the
    padded matrix is counted, then the k-mers that touch padding or an ambiguous code are subtracted again.
    """
    if not 1 <= k <= 4:
        raise DataError(f"k-mer size k={k} is out of range; use 1 to 4")
    dim = 4**k
    ambiguous = base_counts(batch)[:, 4] > 0
    out = np.zeros((len(batch), dim), dtype=np.int64)
    for sl, block in _padded_chunks(batch.mat):
        keys = _kmer_keys(block, k)
        if dim <= 16:  # one SIMD pass per k-mer beats a scatter while there are few of them
            out[sl] = _count_equal(keys, range(dim))
        else:
            flat = keys.astype(np.intp) + (np.arange(keys.shape[0], dtype=np.intp) * dim)[:, None]
            out[sl] = np.bincount(flat.ravel(), minlength=keys.shape[0] * dim).reshape(-1, dim)
        _drop_invalid(out[sl], keys, block, batch.lengths[sl], ambiguous[sl], k)
    return out


def kmer_profiles(batch: SeqBatch, k: int) -> np.ndarray:
    """(n, 4**k) overlapping k-mer frequencies per row (:func:`kmer_counts` over each row's total)."""
    prof = kmer_counts(batch, k).astype(np.float64)
    return prof / np.maximum(prof.sum(axis=1, keepdims=True), 1)


def canonical_keys(b: SeqBatch, rows: Iterable[int] | None = None) -> list[bytes]:
    """min(sequence, reverse complement) per row (or per listed row): equal keys = identical up to strand."""
    keys = []
    for i in range(len(b)) if rows is None else rows:
        s = b.row(int(i))
        keys.append(min(s, s.translate(_RC)[::-1]))
    return keys


def _mix(columns: list[np.ndarray]) -> np.ndarray:
    """One uint64 hash per row from uint64 columns (multiply-xorshift, wrapping arithmetic)."""
    h = np.full(columns[0].shape, 0x9E3779B97F4A7C15, dtype=np.uint64)
    for col in columns:
        h ^= col
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    return h


def strand_hashes(b: SeqBatch) -> tuple[np.ndarray, np.ndarray]:
    """(forward, reverse-complement) uint64 hash per row from its base counts (hence length) and outer 32 bases.

    The reverse-complement hash of a row equals the forward hash of its reverse complement, so rows that are
    equal up to strand always share ``min(forward, rc)``; rows that merely share their ends share it too, which
    is why :func:`duplicate_candidates` only narrows the search and every decision is made on the bytes.
    """
    n, w = b.mat.shape
    head = np.zeros((n, _EDGE), dtype=np.uint8)
    head[:, : min(w, _EDGE)] = b.mat[:, :_EDGE]
    # the reverse complement begins with the row's last bases, last one first, complemented
    last = np.zeros((n, _EDGE), dtype=np.uint8)
    long = np.flatnonzero(b.lengths >= _EDGE)
    if long.size:  # whole windows of the flat matrix: one copy per row instead of a gather per base
        windows = np.lib.stride_tricks.sliding_window_view(b.mat.reshape(-1), _EDGE)
        last[long] = windows[long * w + b.lengths[long] - _EDGE][:, ::-1]
    short = np.flatnonzero(b.lengths < _EDGE)
    if short.size and w:
        back = b.lengths[short, None] - 1 - np.arange(_EDGE)[None, :]
        last[short] = b.mat[short[:, None], np.maximum(back, 0)] * (back >= 0)
    tail = _COMPLEMENT[last]
    counts = base_counts(b).astype(np.uint64)
    fwd = [counts[:, i] for i in (0, 1, 2, 3, 4)] + list(head.view(np.uint64).T)
    rc = [counts[:, i] for i in (3, 2, 1, 0, 4)] + list(tail.view(np.uint64).T)
    return _mix(fwd), _mix(rc)


def duplicate_candidates(b: SeqBatch) -> np.ndarray:
    """Rows, ascending, whose strand-independent hash is shared with another row: the only possible duplicates."""
    if len(b) < 2:
        return np.zeros(0, dtype=np.int64)
    fwd, rc = strand_hashes(b)
    _, inverse, counts = np.unique(np.minimum(fwd, rc), return_inverse=True, return_counts=True)
    return np.flatnonzero(counts[inverse] > 1)


_BASE_CODE = np.full(256, 4, dtype=np.uint8)  # A C G T -> 0 1 2 3, anything else (padding, IUPAC) -> 4
_BASE_CODE[np.frombuffer(b"ACGT", dtype=np.uint8)] = np.arange(4, dtype=np.uint8)
SHARED_K = 32  # one uint64 holds a 2-bit-packed 32-mer


def sampled_kmers(mat: np.ndarray, keep_one_in: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(row, hash) of the canonical 32-mers of each row whose hash is 0 modulo ``keep_one_in``.

    k-mers are 2-bit packed by doubling (2-mers, 4-mers ... 32-mers), on both strands; the canonical one is the
    smaller. Sampling by hash value keeps the same k-mers in every copy of a sequence, so two rows sharing a
    stretch of a few hundred bp share sampled k-mers. k-mers with padding or an IUPAC code are skipped.
    """
    rows_out, hashes_out = [], []
    step = max(1, (1 << 20) // max(mat.shape[1], 1))
    for lo in range(0, mat.shape[0], step):
        code = _BASE_CODE[mat[lo : lo + step]]
        if code.shape[1] < SHARED_K:
            break
        valid = code < 4
        fwd = (code & 3).astype(np.uint64)
        rev = (3 - (code & 3)).astype(np.uint64)
        span = 1
        while span < SHARED_K:
            shift = np.uint64(2 * span)
            fwd = (fwd[:, :-span] << shift) | fwd[:, span:]
            rev = (rev[:, span:] << shift) | rev[:, :-span]
            valid = valid[:, :-span] & valid[:, span:]
            span *= 2
        canon = np.minimum(fwd, rev)
        mixed = canon * np.uint64(0x9E3779B97F4A7C15)
        mixed ^= mixed >> np.uint64(29)
        pick = valid & (mixed % np.uint64(keep_one_in) == 0)
        r, _ = np.nonzero(pick)
        rows_out.append(r + lo)
        hashes_out.append(canon[pick])
    if not rows_out:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    return np.concatenate(rows_out).astype(np.int64), np.concatenate(hashes_out)
