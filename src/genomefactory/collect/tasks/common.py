"""Shared machinery of the task builders: annotation readers, chromosome names, genome access, negatives.

Coordinates: everything inside is 0-based half-open ``[start, end)``. GTF/GFF rows (1-based, closed) are
converted by :func:`read_gtf` (``start - 1``, ``end``); BED is already 0-based half-open. Minus-strand regions
are returned reverse-complemented. Chromosome names are harmonised (``chr1`` / ``1`` / ``NC_000001.11``, ``chrM``
/ ``MT``) with the ``chr`` prefix rule plus an alias table or NCBI assembly report.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import DataError, UserFileNotFoundError
from ...genome import open_genome
from ...sequence import first_invalid, reverse_complement
from ..segment import SeqBatch

_MITO = {"m", "mt", "chrm", "chrmt"}


def _open(path: Path) -> io.TextIOBase:
    if not path.is_file():
        raise UserFileNotFoundError(f"annotation file not found: {path}")
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return io.TextIOWrapper(gzip.open(path), encoding="utf-8") if gz else open(path, encoding="utf-8")  # type: ignore[return-value]


def _table(path: Path, min_cols: int, kind: str) -> pd.DataFrame:
    with _open(path) as fh:
        lines = [ln for ln in fh if ln.strip() and not ln.startswith(("#", "track", "browser"))]
    if not lines:
        raise DataError(f"{path}: no {kind} records")
    df = pd.read_csv(io.StringIO("".join(lines)), sep="\t", header=None, dtype=str, quoting=3)
    if df.shape[1] < min_cols:
        raise DataError(
            f"{path}: a {kind} file needs at least {min_cols} tab-separated columns, found {df.shape[1]}"
        )
    return df


def _ints(col: pd.Series, path: Path, what: str) -> np.ndarray:
    values = pd.to_numeric(col, errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy())
    if bad.size:
        raise DataError(f"{path}: record {bad[0] + 1}: {what} {col.iloc[bad[0]]!r} is not an integer")
    return values.to_numpy(dtype=np.int64)


def read_bed(path: Path) -> pd.DataFrame:
    """BED (3+ columns) -> DataFrame chrom, start, end, name, strand (``.`` becomes ``+``)."""
    df = _table(path, 3, "BED")
    out = pd.DataFrame(
        {"chrom": df[0], "start": _ints(df[1], path, "start"), "end": _ints(df[2], path, "end")}
    )
    out["name"] = df[3] if df.shape[1] > 3 else [f"region{i}" for i in range(len(df))]
    out["strand"] = df[5].where(df[5].isin(["+", "-"]), "+") if df.shape[1] > 5 else "+"
    bad = np.flatnonzero((out["start"] < 0) | (out["end"] <= out["start"]))
    if bad.size:
        r = out.iloc[bad[0]]
        raise DataError(
            f"{path}: record {bad[0] + 1}: need 0 <= start < end, got start={r.start} end={r.end}"
        )
    return out


def read_gtf(path: Path, features: tuple[str, ...]) -> pd.DataFrame:
    """GTF/GFF rows of the first feature type present -> chrom, start (0-based), end, strand, attributes."""
    df = _table(path, 9, "GTF")
    for feature in features:
        rows = df[df[2] == feature]
        if len(rows):
            break
    else:
        raise DataError(f"{path}: no rows with feature type {' or '.join(features)} (column 3)")
    start1 = _ints(rows[3], path, "start")
    end = _ints(rows[4], path, "end")
    bad = np.flatnonzero((start1 < 1) | (end < start1))
    if bad.size:
        raise DataError(
            f"{path}: {features[0]} row {bad[0] + 1}: need 1 <= start <= end (1-based GTF), "
            f"got {start1[bad[0]]}..{end[bad[0]]}"
        )
    attrs = rows[8].fillna("")
    gene = attrs.str.extract(r'gene_id[ =]"?([^";]+)')[0].fillna(attrs.str.extract(r"ID=([^;]+)")[0])
    return pd.DataFrame(
        {
            "chrom": rows[0].to_numpy(),
            "start": start1 - 1,
            "end": end,
            "strand": rows[6].where(rows[6].isin(["+", "-"]), "+").to_numpy(),
            "name": gene.fillna("").to_numpy(),
        }
    )


def _alias_groups(path: Path) -> list[list[str]]:
    with _open(path) as fh:
        text = fh.read()
    report = "Sequence-Name" in text and "RefSeq-Accn" in text
    groups = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.rstrip("\n").split("\t")
        picked = [cols[i] for i in (0, 4, 6, 9) if i < len(cols)] if report else cols
        groups.append([c.strip() for c in picked if c.strip() and c.strip().lower() != "na"])
    return groups


class ChromMap:
    """Maps annotation chromosome names onto the names used by a target (genome FASTA or bigWig)."""

    def __init__(self, target: list[str], aliases: Path | None = None) -> None:
        self.target = set(target)
        self.lookup: dict[str, str] = {}
        for name in target:
            for key in self._variants(name):
                self.lookup.setdefault(key, name)
        if aliases is not None:
            for group in _alias_groups(aliases):
                hit = next(
                    (self.lookup[k] for g in group for k in self._variants(g) if k in self.lookup), None
                )
                if hit is not None:
                    for g in group:
                        for key in self._variants(g):
                            self.lookup.setdefault(key, hit)

    @staticmethod
    def _variants(name: str) -> list[str]:
        low = name.lower()
        base = low[3:] if low.startswith("chr") else low
        if base in _MITO or low in _MITO:
            return ["chrm", "m", "mt"]
        return [low, base, "chr" + base]

    def __call__(self, name: str) -> str | None:
        return next((self.lookup[k] for k in self._variants(name) if k in self.lookup), None)

    def harmonise(self, df: pd.DataFrame, report: dict[str, Any], what: str) -> pd.DataFrame:
        """Rename ``df.chrom``; rows whose chromosome is unknown are dropped and counted in ``report``."""
        mapped = df["chrom"].map(lambda c: self(str(c)))
        missing = mapped.isna()
        report[f"{what}_unknown_chromosome"] = int(missing.sum())
        if missing.all():
            raise DataError(
                f"none of the {what} chromosome names ({sorted(set(df['chrom']))[:5]}) match the genome "
                f"({sorted(self.target)[:5]}); give region.chrom_aliases (alias TSV or NCBI assembly report)"
            )
        out = df[~missing].copy()
        out["chrom"] = mapped[~missing].to_numpy()
        return out


@dataclass
class Genome:
    """pyfaidx-indexed genome; ``fetch`` is 0-based half-open and strand-aware."""

    path: Path

    def __post_init__(self) -> None:
        if not self.path.is_file():
            raise UserFileNotFoundError(f"genome file not found: {self.path}")
        self.fa = open_genome(self.path)
        self.lengths = {name: len(self.fa[name]) for name in self.fa.keys()}  # noqa: SIM118 (iterating a Fasta yields records)

    def fetch(self, chrom: str, start: int, end: int, strand: str) -> bytes:
        seq = str(self.fa[chrom][start:end])
        bad = first_invalid(seq)
        if bad is not None:
            raise DataError(f"{self.path}: {chrom}:{start}-{end} has invalid character {bad[1]!r}")
        return (reverse_complement(seq) if strand == "-" else seq).encode()

    def in_bounds(self, df: pd.DataFrame) -> np.ndarray:
        size = df["chrom"].map(self.lengths).to_numpy(dtype=np.int64)
        return (df["start"].to_numpy() >= 0) & (df["end"].to_numpy() <= size)


def merged(df: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per chromosome, sorted non-overlapping (starts, ends) covering every interval of ``df``."""
    out = {}
    for chrom, g in df.groupby("chrom"):
        s, e = g["start"].to_numpy(), g["end"].to_numpy()
        order = np.argsort(s, kind="stable")
        s, e = s[order], np.maximum.accumulate(e[order])
        new = np.r_[True, s[1:] > e[:-1]]
        last = np.r_[np.flatnonzero(new)[1:] - 1, s.size - 1]
        out[str(chrom)] = (s[new], e[last])
    return out


def sample_negatives(
    lengths: np.ndarray,
    chroms: list[str],
    genome: Genome,
    exclude: pd.DataFrame,
    rng: np.random.Generator,
    rounds: int = 50,
) -> pd.DataFrame:
    """Regions of the given lengths on ``chroms`` (length-weighted, random strand) overlapping no interval of ``exclude``."""
    blocked = merged(exclude)
    size = np.array([genome.lengths[c] for c in chroms], dtype=np.int64)
    found: list[pd.DataFrame] = []
    todo = lengths.astype(np.int64)
    for _ in range(rounds):
        if todo.size == 0:
            break
        ci = rng.choice(len(chroms), size=todo.size, p=size / size.sum())
        room = size[ci] - todo
        ok = room > 0
        start = np.where(ok, (rng.random(todo.size) * np.maximum(room, 1)).astype(np.int64), 0)
        end = start + todo
        for k, chrom in enumerate(chroms):
            if chrom in blocked:
                bs, be = blocked[chrom]
                rows = np.flatnonzero(ci == k)
                j = np.searchsorted(bs, end[rows], side="left") - 1
                ok[rows] &= ~((j >= 0) & (be[np.maximum(j, 0)] > start[rows]))
        found.append(pd.DataFrame({"chrom": np.array(chroms)[ci[ok]], "start": start[ok], "end": end[ok]}))
        todo = todo[~ok]
    if todo.size:
        raise DataError(
            f"could not place {todo.size} matched-length negatives outside the positives after "
            f"{rounds} rounds; the genome is too small or too densely annotated"
        )
    out = pd.concat(found, ignore_index=True)
    # either strand at random: positives are read on their own strand, so "+"-only negatives would differ from
    # them by strand composition (e.g. an A/T vs G/C skew), not only by being non-promoter/enhancer
    out["strand"] = np.where(rng.random(len(out)) < 0.5, "+", "-")
    out["name"] = "negative"
    return out


def overlap_groups(df: pd.DataFrame) -> np.ndarray:
    """Group id per row: rows joined by overlap (transitively) share a group, per chromosome."""
    groups = np.empty(len(df), dtype=np.int64)
    offset = 0
    for _, idx in df.groupby("chrom").indices.items():
        s, e = df["start"].to_numpy()[idx], df["end"].to_numpy()[idx]
        order = np.argsort(s, kind="stable")
        reach = np.maximum.accumulate(e[order])
        cluster = np.r_[0, np.cumsum(s[order][1:] >= reach[:-1])]
        groups[idx[order]] = cluster + offset
        offset += int(cluster[-1]) + 1
    return groups


def to_batch(genome: Genome, df: pd.DataFrame) -> SeqBatch:
    """Extract every row (chrom, start, end, strand, label) into a SeqBatch grouped by overlap."""
    seqs = [
        genome.fetch(c, int(s), int(e), st)
        for c, s, e, st in zip(df["chrom"], df["start"], df["end"], df["strand"], strict=True)
    ]
    names = sorted(genome.lengths)
    contig = df["chrom"].map({n: i for i, n in enumerate(names)}).to_numpy(dtype=np.int64)
    return SeqBatch.from_sequences(
        seqs, df["label"].to_numpy(), overlap_groups(df), contig, df["start"].to_numpy()
    )
