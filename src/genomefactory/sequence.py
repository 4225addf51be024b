"""DNA conventions used everywhere in genomefactory.

- Alphabet: upper-case IUPAC nucleotide codes ``ACGTN`` plus ``RYSWKMBDHV``; sequences are upper-cased on read.
  Any other character (including ``U``, gaps ``-``, digits) is an error naming the file, row and character.
- Intervals are 0-based, half-open ``[start, end)`` internally; GTF/GFF (1-based closed) are converted by their
  readers at the boundary.
- Strand is ``+`` or ``-``; the minus-strand sequence of an interval is the reverse complement of the plus strand.
- Vectorised helpers work on ``numpy.uint8`` byte arrays (one byte per base) so no per-base Python loop runs.

Reading files of sequences (FASTA, CSV/TSV, gzipped or not) is :mod:`genomefactory.records`' job.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError

IUPAC = "ACGTNRYSWKMBDHV"
AMBIGUOUS = "NRYSWKMBDHV"
_COMPLEMENT = str.maketrans("ACGTNRYSWKMBDHVacgtnryswkmbdhv", "TGCANYRSWMKVHDBtgcanyrswmkvhdb")
IUPAC_EXPANSION: dict[str, str] = {
    "A": "A",
    "C": "C",
    "G": "G",
    "T": "T",
    "R": "AG",
    "Y": "CT",
    "S": "CG",
    "W": "AT",
    "K": "GT",
    "M": "AC",
    "B": "CGT",
    "D": "AGT",
    "H": "ACT",
    "V": "ACG",
    "N": "ACGT",
}

_VALID = np.zeros(256, dtype=bool)
for _c in IUPAC:
    _VALID[ord(_c)] = True


class SequenceError(DataError):
    """Bad sequence input; the message names the file, row and offending character (a :class:`DataError`)."""


def reverse_complement(seq: str) -> str:
    """Reverse complement, IUPAC-aware (R<->Y, K<->M, B<->V, D<->H; S, W, N self-complementary)."""
    return seq.translate(_COMPLEMENT)[::-1]


def first_invalid(seq: str) -> tuple[int, str] | None:
    """Position and character of the first non-IUPAC character of an upper-case sequence, else None."""
    arr = np.frombuffer(seq.encode("latin-1", errors="replace"), dtype=np.uint8)
    bad = np.flatnonzero(~_VALID[arr])
    if bad.size == 0:
        return None
    i = int(bad[0])
    return i, seq[i]


def clean_sequence(seq: object, where: str) -> str:
    """Upper-case and validate one sequence; ``where`` (e.g. ``"train.csv row 12"``) goes into the error."""
    if not isinstance(seq, str) or seq == "":
        raise SequenceError(f"{where}: sequence is empty or missing (got {seq!r})")
    s = seq.strip()
    if not s.isascii():  # before upper-casing: Unicode would turn 'ß' into 'SS' and 'ſ' into 'S'
        pos = next(i for i, c in enumerate(s) if ord(c) > 127)
        bad: tuple[int, str] | None = (pos, s[pos])
    else:
        s = s.upper()
        bad = first_invalid(s)
    if bad is not None:
        pos, ch = bad
        raise SequenceError(
            f"{where}: invalid character {ch!r} at position {pos}; allowed are IUPAC codes {IUPAC} "
            "(fix or remove the row)"
        )
    return s


def gc_content(seq: str) -> float:
    """Fraction of G+C among unambiguous bases (0.0 for a sequence without A/C/G/T)."""
    arr = np.frombuffer(seq.upper().encode(), dtype=np.uint8)
    gc = np.count_nonzero((arr == ord("G")) | (arr == ord("C")))
    acgt = gc + np.count_nonzero((arr == ord("A")) | (arr == ord("T")))
    return float(gc / acgt) if acgt else 0.0


def kmer_counts(seq: str, k: int) -> dict[str, int]:
    """Overlapping k-mer counts of an upper-case sequence (k-mers containing ambiguity codes are skipped)."""
    counts: dict[str, int] = {}
    for i in range(len(seq) - k + 1):
        kmer = seq[i : i + k]
        if all(c in "ACGT" for c in kmer):
            counts[kmer] = counts.get(kmer, 0) + 1
    return counts
