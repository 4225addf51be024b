"""One variant allele as the scorer sees it, and the per-record statuses.

A multi-allelic input record becomes one :class:`Variant` per ALT allele (``allele`` = 1-based index of the ALT in
the record). ``pos`` is the input's 1-based position; :attr:`Variant.start` is the 0-based start of REF, so REF
covers the half-open interval ``[start, start + len(ref))`` of the contig, reference (``+``) orientation.
Alleles are upper-case.

Statuses (the ``status`` column of the output; ``ok`` is the only one that is scored):

- ``ok``: scored.
- ``no_alt``: ALT is ``.`` (no alternative allele).
- ``symbolic_allele``: ALT is symbolic (``<DEL>``, ``<INS:ME>``) or a breakend (``A[chr2:10[``).
- ``spanning_deletion``: ALT is ``*``.
- ``invalid_allele``: REF or ALT holds characters other than A, C, G, T, N (or REF is empty).
- ``alt_equals_ref``: ALT is REF (no change).
- ``invalid_position``: the position is not a whole number >= 1 (TSV input).
- ``unknown_contig``: the chromosome is not in the genome (after ``chrom_names`` / ``chrom_map``).
- ``past_contig_end``: REF reaches past the end of its contig.
- ``ref_mismatch``: REF differs from the genome at that position.
- ``invalid_reference``: the genome window holds characters outside the IUPAC alphabet.
- ``not_snv``: the score is defined for SNVs only (masked_marginal) and this is an indel or MNV.
- ``window_too_long``: the window's tokens exceed what the model accepts (lower ``window.size``).
- ``token_outside_head``: a token to score has no row in the model's output layer.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STATUSES", "Variant", "allele_status"]

STATUSES = (
    "ok",
    "no_alt",
    "symbolic_allele",
    "spanning_deletion",
    "invalid_allele",
    "alt_equals_ref",
    "invalid_position",
    "unknown_contig",
    "past_contig_end",
    "ref_mismatch",
    "invalid_reference",
    "not_snv",
    "window_too_long",
    "token_outside_head",
)
_BASES = frozenset("ACGTN")


@dataclass(slots=True)
class Variant:
    """One ALT allele of one input record."""

    record: int  # 0-based index of the input record (VCF data line / TSV row), input order
    allele: int  # 1-based index of this ALT within the record
    chrom: str  # chromosome as written in the input
    pos: int  # 1-based position as written in the input (0 when it could not be read)
    ref: str
    alt: str
    id: str | None = None
    label: str | None = None
    status: str = "ok"  # set by the reader for problems of the record itself

    @property
    def start(self) -> int:
        """0-based start of REF on the contig."""
        return self.pos - 1

    @property
    def is_snv(self) -> bool:
        return len(self.ref) == 1 and len(self.alt) == 1


def allele_status(ref: str, alt: str | None) -> str:
    """The status of a REF/ALT pair read from a file, before the genome is consulted."""
    if alt is None or alt in ("", "."):
        return "no_alt"
    if alt == "*":
        return "spanning_deletion"
    if alt.startswith("<") or "[" in alt or "]" in alt:
        return "symbolic_allele"
    if not ref or not set(ref) <= _BASES or not set(alt) <= _BASES:
        return "invalid_allele"
    if alt == ref:
        return "alt_equals_ref"
    return "ok"
