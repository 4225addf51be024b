"""DNA conventions used everywhere in genomefactory.

- Alphabet: upper-case IUPAC nucleotide codes ``ACGTN`` plus ``RYSWKMBDHV``; sequences are upper-cased on read.
  Any other character (including ``U``, gaps ``-``, digits) is an error naming the file, row and character.
- Intervals are 0-based, half-open ``[start, end)`` internally; GTF/GFF (1-based closed) are converted by their
  readers at the boundary.
- Strand is ``+`` or ``-``; the minus-strand sequence of an interval is the reverse complement of the plus strand.
- Vectorised helpers work on ``numpy.uint8`` byte arrays (one byte per base) so no per-base Python loop runs.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import UserError

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


class SequenceError(UserError, ValueError):
    """Bad sequence input; the message names the file, row and offending character."""


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
    s = seq.strip().upper()
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


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")  # type: ignore[return-value]
    return open(path, encoding="utf-8")


def read_fasta(path: str | Path) -> Iterator[tuple[str, str]]:
    """Yield ``(id, sequence)`` from a FASTA file (``.gz`` transparently); ids are the first header word.

    Sequences are upper-cased and validated; an error names the file, the record and the character.
    """
    p = Path(path)
    header: str | None = None
    chunks: list[str] = []
    n = 0
    with _open_text(p) as fh:
        for line_no, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if line.startswith(">"):
                if header is not None:
                    yield header, clean_sequence("".join(chunks), f"{p} record {n} ({header})")
                header = line[1:].split()[0] if line[1:].strip() else f"seq{n + 1}"
                chunks = []
                n += 1
            elif line.strip():
                if header is None:
                    raise SequenceError(f"{p} line {line_no}: sequence data before the first '>' header")
                chunks.append(line.strip())
    if header is not None:
        yield header, clean_sequence("".join(chunks), f"{p} record {n} ({header})")
