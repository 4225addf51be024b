"""``per_base_data``: windows with one label per base, for per-base (token-level) training.

**Gene structure** (GenBank, or FASTA + GTF/GFF3). Exons are the parts of every CDS / tRNA / rRNA / mRNA /
ncRNA feature (GenBank) or the ``exon`` rows of each transcript (GTF ``transcript_id``, GFF3 ``Parent``; ``CDS``
rows when a file has no exon rows); an intron is the gap between two consecutive parts of one feature on the
same strand, when shorter than ``max_intron`` (trans-spliced parts are not joined). Classes, relative to the
window's strand: 0 ``intergenic``, 1 ``exon``, 2 ``intron``, 3 ``exon_antisense``, 4 ``intron_antisense``; a
base in several takes the first of exon > exon_antisense > intron > intron_antisense. **Signal** (FASTA +
bigWig): the bigWig's value at each base (``.`` where it has none).

Windows tile each contig from position 0 with ``stride`` (full windows only); ``strands: both`` adds each
window's reverse complement, its labels reversed (and sense/antisense swapped). Coordinates are 0-based
half-open: ``start``/``end`` are the window on the reference, ``strand`` ``-`` means the sequence is the reverse
complement of ``[start, end)`` and label i belongs to sequence base i. GTF/GFF rows are converted at the reader
(``start - 1``, ``end``). Groups of ``group_windows`` adjacent windows (both strands of them) go to one split.

Output (``train/data.py``'s per-base layout): ``train.tsv``, ``dev.tsv``, ``test.tsv`` with columns ``id``,
``sequence``, ``label`` (comma-separated per-base labels), ``chrom``, ``start``, ``end``, ``strand``; plus
``classes.json`` and ``per_base_report.json``, and ``manifest.json``. Files are written atomically.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError, UserFileNotFoundError
from ...io import atomic_open, atomic_write_json, check_output_dir, write_manifest
from ...sequence import reverse_complement
from ..per_base_config import PerBaseDataConfig
from ..segment import Contig, assign_splits, read_genome
from .common import _table

__all__ = ["CLASSES", "PerBaseDataResult", "gene_structure_labels", "run_per_base_data"]

log = logging.getLogger("genomefactory.collect")

CLASSES = ("intergenic", "exon", "intron", "exon_antisense", "intron_antisense")
_EXON_FEATURES = ("CDS", "tRNA", "rRNA", "mRNA", "ncRNA", "misc_RNA", "tmRNA")
# a base in several categories takes the first listed (priority): sense exon, antisense exon, sense intron ...
_PRIORITY = ((1, "exon", "sense"), (3, "exon", "anti"), (2, "intron", "sense"), (4, "intron", "anti"))

Part = tuple[int, int, int]  # start, end (0-based half-open), strand (+1 / -1)


@dataclass
class PerBaseDataResult:
    output_dir: Path
    rows: dict[str, int]
    files: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.rows.items())
        return f"per-base task written to {self.output_dir} ({counts} windows)"


def _parts_labels(length: int, features: list[list[Part]], max_intron: int) -> dict[str, np.ndarray]:
    """Boolean masks exon/intron per strand (``exon+``, ``intron-`` ...) of a contig of ``length`` bases."""
    masks = {f"{k}{s}": np.zeros(length, dtype=bool) for k in ("exon", "intron") for s in "+-"}
    for parts in features:
        for a, b, strand in parts:
            masks["exon" + ("+" if strand >= 0 else "-")][max(a, 0) : min(b, length)] = True
        # consecutive parts in listed (transcript) order; a gap between them on one strand is an intron
        for (a1, b1, s1), (a2, b2, s2) in itertools.pairwise(parts):
            if s1 != s2:
                continue
            lo, hi = (b1, a2) if a2 >= b1 else (b2, a1)
            if 0 < hi - lo <= max_intron:
                masks["intron" + ("+" if s1 >= 0 else "-")][lo:hi] = True
    return masks


def gene_structure_labels(masks: dict[str, np.ndarray], strand: str) -> np.ndarray:
    """Class per base for windows read on ``strand`` (reference orientation; reverse for '-' windows)."""
    sense, anti = ("+", "-") if strand == "+" else ("-", "+")
    length = masks["exon+"].size
    labels = np.zeros(length, dtype=np.int64)
    done = np.zeros(length, dtype=bool)
    for cls, kind, side in _PRIORITY:
        m = masks[kind + (sense if side == "sense" else anti)] & ~done
        labels[m] = cls
        done |= m
    return labels


def _genbank_features(path: Path) -> list[list[list[Part]]]:
    """Per GenBank record: the exon parts of each exon-bearing feature, in the order the location lists them."""
    from Bio import SeqIO

    from ...io import open_input_text

    out = []
    with open_input_text(path, "genome") as fh:
        for rec in SeqIO.parse(fh, "genbank"):
            feats = []
            for f in rec.features:
                if f.type in _EXON_FEATURES and f.location is not None:
                    feats.append([(int(p.start), int(p.end), int(p.strand or 1)) for p in f.location.parts])
            out.append(feats)
    return out


_ATTR = {"gtf": re.compile(r'transcript_id "([^"]+)"'), "gff": re.compile(r"Parent=([^;]+)")}


def _gtf_features(path: Path, contigs: list[Contig]) -> tuple[list[list[list[Part]]], dict[str, int]]:
    """Per contig: the exon parts of each transcript of a GTF/GFF3 (1-based closed rows -> 0-based half-open)."""
    df = _table(path, 9, "GTF/GFF")
    rows = df[df[2] == "exon"]
    if rows.empty:
        rows = df[df[2] == "CDS"]
    if rows.empty:
        raise DataError(f"{path}: no exon or CDS rows; a gene-structure task needs exons")
    index = {c.name: i for i, c in enumerate(contigs)}
    per_contig: list[dict[str, list[Part]]] = [{} for _ in contigs]
    report = {"rows": len(rows), "rows_on_unknown_chromosomes": 0, "rows_without_transcript": 0}
    for n, (chrom, start, end, strand, attrs) in enumerate(
        zip(rows[0], rows[3], rows[4], rows[6], rows[8], strict=True)
    ):
        if chrom not in index:
            report["rows_on_unknown_chromosomes"] += 1
            continue
        match = _ATTR["gtf"].search(attrs) or _ATTR["gff"].search(attrs)
        if match is None:
            report["rows_without_transcript"] += 1
            continue
        try:
            a, b = int(start) - 1, int(end)
        except ValueError:
            raise DataError(
                f"{path}: row {n + 1} of the exons: start/end {start!r}/{end!r} are not integers"
            ) from None
        per_contig[index[chrom]].setdefault(match.group(1), []).append((a, b, -1 if strand == "-" else 1))
    out = []
    for transcripts in per_contig:
        feats = []
        for parts in transcripts.values():
            parts.sort()
            feats.append(parts)
        out.append(feats)
    return out, report


def _signal_tracks(path: Path, contigs: list[Contig]) -> list[np.ndarray | None]:
    """Per contig: the bigWig's values per base (NaN = none), None when the bigWig lacks the chromosome."""
    import pyBigWig

    if not path.is_file():
        raise UserFileNotFoundError(f"signal file not found: {path}")
    try:
        bw = pyBigWig.open(str(path))
    except RuntimeError:
        raise DataError(f"{path} is not a readable bigWig file") from None
    if bw is None or not bw.isBigWig():
        raise DataError(f"{path} is not a bigWig file")
    sizes = bw.chroms()
    out: list[np.ndarray | None] = []
    for c in contigs:
        if c.name not in sizes:
            out.append(None)
            continue
        n = min(len(c.seq), int(sizes[c.name]))
        track = np.full(len(c.seq), np.nan)
        track[:n] = np.asarray(bw.values(c.name, 0, n, numpy=True), dtype=np.float64)
        out.append(track)
    bw.close()
    return out


def _fmt_labels(values: np.ndarray, regression: bool) -> str:
    if regression:
        return ",".join("." if not np.isfinite(v) else f"{v:.6g}" for v in values.tolist())
    return ",".join(map(str, values.tolist()))


def _windows(
    cfg: PerBaseDataConfig, contigs: list[Contig], labels_of: Any, regression: bool
) -> list[dict[str, Any]]:
    """Tiled windows (both strands when asked) with their per-base labels, group ids by adjacency."""
    stride = cfg.stride or cfg.window
    strands = ("+", "-") if cfg.strands == "both" else ("+",)
    rows: list[dict[str, Any]] = []
    for ci, contig in enumerate(contigs):
        per_strand = {s: labels_of(ci, s) for s in strands}
        if per_strand["+"] is None:
            continue
        for k, start in enumerate(range(0, len(contig.seq) - cfg.window + 1, stride)):
            end = start + cfg.window
            raw = contig.seq[start:end]
            if float(np.mean(raw == ord("N"))) > cfg.max_n_fraction:
                continue
            seq = raw.tobytes().decode()
            g = ci * 1_000_000_000 + k // cfg.group_windows
            for s in strands:
                lab = per_strand[s][start:end]
                if regression and not np.isfinite(lab).any():
                    continue
                text = _fmt_labels(lab[::-1] if s == "-" else lab, regression)
                rows.append(
                    {
                        "id": f"{contig.name}:{start}-{end}({s})",
                        "sequence": reverse_complement(seq) if s == "-" else seq,
                        "label": text,
                        "chrom": contig.name,
                        "start": start,
                        "end": end,
                        "strand": s,
                        "group": g,
                    }
                )
    return rows


def _labeller(cfg: PerBaseDataConfig, contigs: list[Contig], report: dict[str, Any]) -> tuple[Any, bool]:
    """(function (contig index, strand) -> per-base labels in reference orientation, regression?)."""
    if cfg.signal is not None:
        tracks = _signal_tracks(cfg.signal, contigs)
        report["contigs_without_signal"] = [c.name for c, t in zip(contigs, tracks, strict=True) if t is None]
        return (lambda ci, s: tracks[ci]), True
    if cfg.annotation is not None:
        feats, rep = _gtf_features(cfg.annotation, contigs)
        report["annotation"] = rep
    elif _is_genbank(cfg.genome):
        feats = _genbank_features(cfg.genome)
        if len(feats) != len(contigs):
            raise DataError(
                f"{cfg.genome}: {len(feats)} GenBank records with features, {len(contigs)} sequences"
            )
    else:
        raise DataError(
            f"genome {cfg.genome} is FASTA: give annotation (GTF/GFF) for gene-structure classes or signal "
            "(bigWig) for per-base values, or use a GenBank file"
        )
    masks = [_parts_labels(len(c.seq), f, cfg.max_intron) for c, f in zip(contigs, feats, strict=True)]
    return (lambda ci, s: gene_structure_labels(masks[ci], s)), False


def _is_genbank(path: Path) -> bool:
    return bool({s.lower() for s in path.suffixes} & {".gb", ".gbk", ".gbff", ".genbank"})


def run_per_base_data(cfg: PerBaseDataConfig) -> PerBaseDataResult:
    """Build the per-base task folder (see the module docstring)."""
    check_output_dir(cfg.output_dir, cfg.overwrite)
    contigs = read_genome(cfg.genome)
    report: dict[str, Any] = {"genome": str(cfg.genome), "contigs": {c.name: len(c.seq) for c in contigs}}
    labels_of, regression = _labeller(cfg, contigs, report)
    rows = _windows(cfg, contigs, labels_of, regression)
    groups = np.asarray([r["group"] for r in rows], dtype=np.int64)
    if np.unique(groups).size < 3:
        raise DataError(
            f"{cfg.genome}: {len(rows)} windows in {np.unique(groups).size} groups; three splits need at least "
            "three groups: lower window or group_windows"
        )
    rng = np.random.default_rng(cfg.seed)
    fractions = (cfg.split.train, cfg.split.dev, cfg.split.test)
    split = assign_splits(groups, np.zeros(len(rows), dtype=np.int64), fractions, rng)
    out = cfg.output_dir
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    files: dict[str, Path] = {}
    per_split: dict[str, dict[str, int]] = {}
    for k, name in enumerate(("train", "dev", "test")):
        chosen = [rows[i] for i in np.flatnonzero(split == k)]
        if name == "train" and cfg.split.reverse_complement:
            chosen += [_reverse(r, regression) for r in chosen]
        counts[name] = len(chosen)
        if not regression:
            per_split[name] = _class_counts(chosen)
            absent = [c for c, n in per_split[name].items() if n == 0]
            if absent:
                log.warning("per_base_data: %s holds no base of class %s", name, ", ".join(absent))
        files[name] = out / f"{name}.tsv"
        with atomic_open(files[name]) as fh:
            fh.write("id\tsequence\tlabel\tchrom\tstart\tend\tstrand\n")
            for r in chosen:
                fh.write(
                    "\t".join(
                        str(r[c]) for c in ("id", "sequence", "label", "chrom", "start", "end", "strand")
                    )
                )
                fh.write("\n")
    if not regression:
        atomic_write_json(out / "classes.json", dict(enumerate(CLASSES)))
        files["classes"] = out / "classes.json"
    report.update(
        {"task_type": "per_base_regression" if regression else "per_base_classification", "windows": counts}
    )
    if not regression:
        report["bases_per_class"] = _class_counts(rows)
        report["bases_per_class_per_split"] = per_split
    atomic_write_json(out / "per_base_report.json", report)
    inputs = [p for p in (cfg.genome, cfg.annotation, cfg.signal) if p is not None]
    write_manifest(out, json.loads(cfg.model_dump_json()), inputs, cfg.seed, "per_base_data")
    files["report"] = out / "per_base_report.json"
    log.info("per-base task: %s", counts)
    return PerBaseDataResult(out, counts, files)


def _reverse(row: dict[str, Any], regression: bool) -> dict[str, Any]:
    """The reverse complement of a window (train augmentation); class labels keep their meaning only when read
    on the window's strand, so sense and antisense swap."""
    items = row["label"].split(",")[::-1]
    if not regression:
        swap = {"1": "3", "3": "1", "2": "4", "4": "2"}
        items = [swap.get(x, x) for x in items]
    strand = "-" if row["strand"] == "+" else "+"
    return {
        **row,
        "sequence": reverse_complement(row["sequence"]),
        "label": ",".join(items),
        "strand": strand,
        "id": row["id"][:-3] + f"({strand})",
    }


def _class_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    total = np.zeros(len(CLASSES), dtype=np.int64)
    for r in rows:
        total += np.bincount(np.array(r["label"].split(","), dtype=np.int64), minlength=len(CLASSES))
    return {name: int(n) for name, n in zip(CLASSES, total, strict=True)}
