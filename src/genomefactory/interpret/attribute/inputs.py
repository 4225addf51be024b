"""The sequences an ``attribute`` run explains, and where they lie in a genome.

Sequences come from one record file (:mod:`genomefactory.records`: FASTA, CSV/TSV) or a task folder's
``<split>.csv``. Genome coordinates (optional, for bigWig) come from a BED file (0-based half-open, strand in
column 6, one row per sequence in input order) or from FASTA ids ``chrom:start-end`` with an optional strand
``(+)``/``(-)`` or ``/rc`` (``bedtools getfasta -s`` writes ``chr1:99-200(-)``; ``samtools faidx [-i]`` writes
1-based inclusive ``chr1:100-200[/rc]``: ``header_coordinates`` says which). Inside, every interval is 0-based half-open; its length must
equal the sequence length. Strand ``-`` means the sequence is the reverse complement of the reference interval,
so sequence position ``i`` lies at reference position ``end - 1 - i``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ...errors import DataError, UserFileNotFoundError
from ...io import open_input_text
from ...records import read_records
from .config import AttributeConfig

__all__ = ["Inputs", "Interval", "read_inputs"]

log = logging.getLogger("genomefactory.attribute")

_HEADER = re.compile(
    r"^(?P<chrom>.+):(?P<start>[0-9][0-9,]*)-(?P<end>[0-9][0-9,]*)(?:\((?P<strand>[+.-])\)|(?P<rc>/rc))?$"
)


@dataclass(frozen=True)
class Interval:
    """A reference interval, 0-based half-open; ``strand`` ``+`` or ``-``."""

    chrom: str
    start: int
    end: int
    strand: str = "+"

    def ref_positions(self, lo: int, hi: int) -> list[int]:
        """Reference positions of sequence positions ``lo .. hi-1`` (in sequence order)."""
        if self.strand == "-":
            return [self.end - 1 - i for i in range(lo, hi)]
        return [self.start + i for i in range(lo, hi)]


@dataclass
class Inputs:
    ids: list[str]
    sequences: list[str]
    labels: list[str | None]
    intervals: list[Interval] | None  # one per sequence, or None without coordinates
    path: Path  # the record file read
    coordinates_from: str | None  # "bed", "fasta ids" or None


def _record_file(cfg: AttributeConfig) -> Path:
    p = Path(cfg.input)
    if p.is_dir():
        f = p / f"{cfg.split}.csv"
        if not f.is_file():
            have = ", ".join(sorted(x.stem for x in p.glob("*.csv"))) or "none"
            raise UserFileNotFoundError(
                f"input {p} is a folder without {cfg.split}.csv (splits there: {have}); set split to one of them"
            )
        return f
    if not p.is_file():
        raise UserFileNotFoundError(f"input {p} does not exist; give a FASTA/CSV/TSV file or a task folder")
    return p


def read_inputs(cfg: AttributeConfig) -> Inputs:
    path = _record_file(cfg)
    ids: list[str] = []
    seqs: list[str] = []
    labels: list[str | None] = []
    for rec in read_records(path, what="input"):
        if cfg.max_sequences is not None and len(ids) >= cfg.max_sequences:
            break
        ids.append(rec.id)
        seqs.append(rec.sequence)
        lab = rec.meta.get(cfg.label_column) if cfg.label_column else None
        labels.append(None if lab is None else str(lab))
    if not ids:
        raise DataError(f"input {path} holds no sequences")
    lo = cfg.window_start
    short = [i for i, s in enumerate(seqs) if len(s) <= lo]
    if short:
        n = short[0]
        raise DataError(
            f"input {path}: sequence {ids[n]!r} is {len(seqs[n])} bases long, not longer than window_start {lo}; "
            "lower window_start or leave that sequence out"
        )
    hi = cfg.window_end
    beyond = [i for i, s in enumerate(seqs) if hi is not None and len(s) < hi]
    if beyond and len(beyond) == len(seqs):  # past every sequence's end: a mistake, not a mix of lengths
        longest = max(range(len(seqs)), key=lambda i: len(seqs[i]))
        raise DataError(
            f"input {path}: window_end {hi} is past the end of every sequence (the longest, {ids[longest]!r}, "
            f"has {len(seqs[longest])} bases); lower window_end, or leave it unset (null) to keep every "
            "sequence to its end"
        )
    if beyond:
        log.info(
            "window_end %d: %d of %d sequences are shorter and are kept to their end (first: %r, %d bases)",
            hi,
            len(beyond),
            len(seqs),
            ids[beyond[0]],
            len(seqs[beyond[0]]),
        )
    intervals, source = None, None
    if cfg.coordinates.bed_file:
        intervals, source = _read_bed(cfg.coordinates.bed_file, ids, seqs), "bed"
    elif cfg.coordinates.header_coordinates != "none":
        intervals = _from_ids(path, ids, seqs, cfg.coordinates.header_coordinates)
        source = "fasta ids" if intervals is not None else None
    return Inputs(ids, seqs, labels, intervals, path, source)


def _from_ids(path: Path, ids: list[str], seqs: list[str], style: str) -> list[Interval] | None:
    matches = [_HEADER.match(i) for i in ids]
    if not any(matches):
        return None
    out: list[Interval] = []
    for n, m in enumerate(matches):
        if m is None:
            raise DataError(
                f"input {path} record {n + 1} ({ids[n]!r}): not chrom:start-end like the other ids; give every "
                "record coordinates, or set coordinates.header_coordinates: none"
            )
        start, end = int(m["start"].replace(",", "")), int(m["end"].replace(",", ""))
        if style == "samtools":
            start -= 1
        fits = end - start == len(seqs[n])
        if not fits:
            other = "samtools" if style == "bedtools" else "bedtools"
            alt = end - int(m["start"].replace(",", "")) + (1 if other == "samtools" else 0)
            hint = f"; these ids look {other}-style: set coordinates.header_coordinates: {other}" * (
                alt == len(seqs[n])
            )
            raise DataError(
                f"input {path} record {n + 1} ({ids[n]!r}): the interval spans {end - start} bases ({style} "
                f"coordinates) but the sequence has {len(seqs[n])}{hint}"
            )
        out.append(Interval(m["chrom"], start, end, "-" if m["strand"] == "-" or m["rc"] else "+"))
    return out


def _read_bed(bed: str, ids: list[str], seqs: list[str]) -> list[Interval]:
    out: list[Interval] = []
    with open_input_text(bed, "coordinates.bed_file") as fh:
        row = 0
        for line_no, line in enumerate(fh, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            cells = line.rstrip("\n\r").split("\t")
            where = f"coordinates.bed_file {bed} line {line_no}"
            if len(cells) < 3:
                raise DataError(
                    f"{where}: a BED row needs chrom, start, end (tab-separated); got {line.strip()!r}"
                )
            try:
                start, end = int(cells[1]), int(cells[2])
            except ValueError:
                raise DataError(f"{where}: start/end {cells[1]!r}, {cells[2]!r} are not integers") from None
            if row >= len(ids):
                raise DataError(f"{where}: more BED rows than sequences ({len(ids)}); one row per sequence")
            if start < 0 or end - start != len(seqs[row]):
                raise DataError(
                    f"{where}: interval {cells[0]}:{start}-{end} spans {end - start} bases but sequence "
                    f"{ids[row]!r} has {len(seqs[row])} (BED is 0-based half-open)"
                )
            if len(cells) > 3 and cells[3] not in (".", "") and cells[3] != ids[row]:
                raise DataError(
                    f"{where}: name {cells[3]!r} is not the id of sequence {row + 1} ({ids[row]!r})"
                )
            strand = cells[5] if len(cells) > 5 else "+"
            if strand not in ("+", "-", "."):
                raise DataError(f"{where}: strand {strand!r} must be +, - or .")
            out.append(Interval(cells[0], start, end, "-" if strand == "-" else "+"))
            row += 1
    if row != len(ids):
        raise DataError(
            f"coordinates.bed_file {bed} has {row} rows for {len(ids)} sequences; one row per sequence"
        )
    return out
