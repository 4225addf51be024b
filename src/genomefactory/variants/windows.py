"""Checking variants against the genome and building the windows they are scored in.

All coordinates are 0-based half-open on the contig, reference (``+``) orientation; a window's sequence is the
upper-case genome ``[start, end)``. With REF at ``[s, s + r)`` and window size ``W``:

- SNV, shared (``tile = T``): the window is centred on the centre of the SNV's tile,
  ``c = floor(s / T) * T + floor(T / 2)``, and covers ``[c - floor(W / 2), c - floor(W / 2) + W)``, so every SNV of a
  tile has the same reference window (computed once) and lies at most ``T / 2`` from its centre. ``T = 1`` centres
  the window on the SNV itself (base ``floor(W / 2)`` of the window), which masked_marginal always uses.
- indel / MNV (re-centred): left flank ``L = floor((W - r) / 2)``, right flank ``R = W - r - L`` (both 0 when
  ``r >= W``); the reference window is ``[s - L, s + r + R)`` (length ``W``), the ALT window is the same flanks
  around ALT (length ``W - r + len(ALT)``).
- Windows reaching past a contig end are clipped to the contig (``clipped = True``), never padded.

The ALT window is the reference window with REF replaced by ALT at ``offset = s - start``.
:meth:`AlleleWindow.reverse_complement` gives the same variant read on the ``-`` strand: both windows reverse
complemented, ``offset`` becomes ``len(ref_seq) - offset - r`` and the alleles are complemented.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..sequence import first_invalid, reverse_complement
from .records import Variant
from .reference import Reference

__all__ = ["AlleleWindow", "WindowBuilder", "check_site"]


@dataclass(frozen=True, slots=True)
class AlleleWindow:
    """REF and ALT windows of one allele, in the orientation ``strand``."""

    ref_seq: str
    alt_seq: str
    offset: int  # 0-based offset of the allele in ref_seq (and in alt_seq)
    ref: str
    alt: str
    start: int  # genome interval of ref_seq (reference orientation, 0-based half-open)
    end: int
    clipped: bool
    strand: str = "+"

    @property
    def is_snv(self) -> bool:
        return len(self.ref) == 1 and len(self.alt) == 1

    def reverse_complement(self) -> AlleleWindow:
        return AlleleWindow(
            reverse_complement(self.ref_seq),
            reverse_complement(self.alt_seq),
            len(self.ref_seq) - self.offset - len(self.ref),
            reverse_complement(self.ref),
            reverse_complement(self.alt),
            self.start,
            self.end,
            self.clipped,
            "-" if self.strand == "+" else "+",
        )


def check_site(v: Variant, reference: Reference) -> str:
    """The variant's status once the genome is consulted (its own status when it already has a problem)."""
    if v.status != "ok":
        return v.status
    contig = reference.resolve(v.chrom)
    if contig is None:
        return "unknown_contig"
    if v.start + len(v.ref) > reference.length(contig):
        return "past_contig_end"
    if reference.fetch(contig, v.start, v.start + len(v.ref)) != v.ref:
        return "ref_mismatch"
    return "ok"


class WindowBuilder:
    """Builds (and caches) the windows of variants whose status is ``ok``."""

    def __init__(self, reference: Reference, size: int, tile: int) -> None:
        self.reference, self.size, self.tile = reference, size, tile
        self._seq: dict[tuple[str, int, int], str] = {}

    def bounds(self, v: Variant, contig_len: int, tile: int | None = None) -> tuple[int, int, bool]:
        """``(start, end, clipped)`` of the reference window of ``v``."""
        t = self.tile if tile is None else tile
        s, r, w = v.start, len(v.ref), self.size
        if v.is_snv:
            centre = (s // t) * t + t // 2
            lo = centre - w // 2
            hi = lo + w
        else:
            left = (w - r) // 2 if w > r else 0
            right = w - r - left if w > r else 0
            lo, hi = s - left, s + r + right
        clipped = lo < 0 or hi > contig_len
        return max(lo, 0), min(hi, contig_len), clipped

    def _fetch(self, contig: str, lo: int, hi: int) -> str:
        key = (contig, lo, hi)
        seq = self._seq.get(key)
        if seq is None:
            seq = self._seq[key] = self.reference.fetch(contig, lo, hi)
        return seq

    def build(self, v: Variant, tile: int | None = None) -> AlleleWindow | None:
        """The windows of ``v`` (``None`` when the genome window holds non-IUPAC characters)."""
        contig = self.reference.resolve(v.chrom)
        assert contig is not None, "build() is for variants that passed check_site"
        lo, hi, clipped = self.bounds(v, self.reference.length(contig), tile)
        seq = self._fetch(contig, lo, hi)
        if first_invalid(seq) is not None:
            return None
        off = v.start - lo
        alt_seq = seq[:off] + v.alt + seq[off + len(v.ref) :]
        return AlleleWindow(seq, alt_seq, off, v.ref, v.alt, lo, hi, clipped)

    def clear(self) -> None:
        self._seq.clear()
