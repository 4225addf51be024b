"""Genomic Benchmarks (Grešová et al. 2023): sequences from the official interval files and the genome.

Interval files: ``<root>/<dataset>/{train,test}/<class>.csv.gz`` with ``id,region,start,end,strand``,
**0-based half-open** (``genome[start:end]``), ``-`` strand reverse-complemented; ``metadata.yaml`` names the
reference of each class by URL. The user supplies each reference as a local FASTA (``genomes``, keyed by the
URL's file name); plain or bgzip-compressed FASTA is read with pyfaidx (a plain-gzip file must be decompressed).
Region names follow the package's conventions: ``ENSEMBL_*_GENOME`` references are Ensembl chromosomes
(``1``) referred to as ``chr1``; ``ENSEMBL_HUMAN_TRANSCRIPTOME`` ids drop the ``.version`` suffix. Like the
package, one convention applies per reference file: a class without ``extra_processing`` that shares its
reference with a class that has one follows it (drosophila_enhancers_stark); an unknown value is an error.

Labels: classes in sorted name order (``negative`` = 0, ``positive`` = 1), as in the package's exports.
There is no dev split: it is carved out of train (``dev_fraction``). Alternatively ``path`` is a local export:
``<root>/<dataset>/{train,test}.csv`` or ``<root>/{train,test}_<dataset>.csv`` with columns ``seq,label``.
Metric: Matthews correlation ×100 (paper section 4.2).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ...errors import DataError, UserFileNotFoundError
from ...genome import open_genome
from ...io import open_input_text
from ...sequence import reverse_complement
from ..config import SuiteConfig
from . import BenchTask, PreparedTask, Suite, materialize, read_labelled, register_suite

__all__ = ["DATASETS", "GenomicBenchmarksSuite", "sequences_from_intervals"]

# dataset -> group (organism); the nine datasets of the package's README
DATASETS: dict[str, str] = {
    "demo_coding_vs_intergenomic_seqs": "demo",
    "demo_human_or_worm": "demo",
    "drosophila_enhancers_stark": "drosophila",
    "dummy_mouse_enhancers_ensembl": "mouse",
    "human_enhancers_cohn": "human",
    "human_enhancers_ensembl": "human",
    "human_ensembl_regulatory": "human",
    "human_nontata_promoters": "human",
    "human_ocr_ensembl": "human",
}

_CHR_PREFIXED = {"ENSEMBL_HUMAN_GENOME", "ENSEMBL_MOUSE_GENOME", "ENSEMBL_DROSOPHILA_GENOME"}
_KNOWN_PROCESSING = _CHR_PREFIXED | {"ENSEMBL_HUMAN_TRANSCRIPTOME"}


def _key_function(extra: str | None) -> Callable[[str], str]:
    if extra in _CHR_PREFIXED:
        return lambda k: k if k.startswith("chr") else "chr" + k
    if extra == "ENSEMBL_HUMAN_TRANSCRIPTOME":
        return lambda k: re.sub(r"^(ENST\d+)\.\d+$", r"\1", k)
    return lambda k: k


def _open_genome(path: Path, extra: str | None) -> Any:
    try:
        return open_genome(
            path, what="genome FASTA", key_function=_key_function(extra), duplicate_action="first"
        )
    except ValueError as exc:
        raise DataError(f"{path}: cannot index FASTA ({exc})") from exc


def _reference_processing(
    classes: dict[str, Any], refs: dict[str, str], folder: Path
) -> dict[str, str | None]:
    """One region-name convention per reference file, as the package builds one name table per reference.

    Classes sharing a reference may disagree only by omission: drosophila_enhancers_stark's ``negative`` class
    has no ``extra_processing`` yet its regions are ``chr``-prefixed like ``positive``'s, so the one that is
    set applies to both. Two different settings for one reference are an error.
    """
    out: dict[str, str | None] = {}
    for cls in sorted(classes):
        extra = classes[cls].get("extra_processing")
        ref = refs[cls]
        if extra is not None and extra not in _KNOWN_PROCESSING:
            raise DataError(
                f"{folder / 'metadata.yaml'}: class {cls}: unknown extra_processing {extra!r} "
                f"(known: {', '.join(sorted(_KNOWN_PROCESSING))})"
            )
        if extra is None:
            out.setdefault(ref, None)
        elif out.get(ref) not in (None, extra):
            raise DataError(
                f"{folder / 'metadata.yaml'}: reference {ref} has two extra_processing values "
                f"({out[ref]}, {extra}); one genome cannot follow both naming conventions"
            )
        else:
            out[ref] = extra
    return out


def sequences_from_intervals(intervals: pd.DataFrame, genome: Any, where: str) -> list[str]:
    """Sequences of 0-based half-open intervals, reverse-complemented on ``-``; errors name the row."""
    out: list[str] = []
    for i, (region, start, end, strand) in enumerate(
        zip(intervals["region"], intervals["start"], intervals["end"], intervals["strand"], strict=True),
        start=1,
    ):
        region = str(region)
        if region not in genome:
            names = list(genome.keys())[:5]
            raise DataError(
                f"{where} row {i}: region {region!r} is not in the genome (first names: "
                f"{', '.join(names)}); is this the reference named in metadata.yaml?"
            )
        length = len(genome[region])
        s, e = int(start), int(end)
        if not 0 <= s < e <= length:
            raise DataError(f"{where} row {i}: interval {region}:{s}-{e} is outside 0..{length}")
        seq = str(genome[region][s:e])
        out.append(reverse_complement(seq) if strand == "-" else seq)
    return out


class GenomicBenchmarksSuite(Suite):
    name = "genomic_benchmarks"
    title = "GenomicBenchmarks"

    def list_tasks(self, cfg: SuiteConfig) -> list[BenchTask]:
        names = dict(DATASETS)
        if cfg.path and Path(cfg.path).is_dir():  # also datasets a newer release adds
            for d in sorted(Path(cfg.path).iterdir()):
                if (d / "metadata.yaml").is_file() and d.name not in names:
                    names[d.name] = "other"
        return [BenchTask(self.name, n, g, cfg.metric or "mcc") for n, g in names.items()]

    def check(self, cfg: SuiteConfig) -> None:
        if not cfg.path:
            raise DataError(
                "suite genomic_benchmarks needs `path`: the interval folders (datasets/ of "
                "ML-Bioinfo-CEITEC/genomic_benchmarks) or a local export of seq,label CSVs"
            )
        root = Path(cfg.path).expanduser()
        if not root.is_dir():
            raise UserFileNotFoundError(
                f"suite genomic_benchmarks: folder {root} not found (the datasets/ folder of a clone of "
                "https://github.com/ML-Bioinfo-CEITEC/genomic_benchmarks, or a local seq,label export)"
            )
        for name, genome in cfg.genomes.items():
            if not Path(genome).expanduser().is_file():
                raise UserFileNotFoundError(
                    f"suite genomic_benchmarks: genomes[{name!r}] = {genome} not found; download the reference "
                    f"from the URL named in the datasets' metadata.yaml"
                )

    def prepare(self, task: BenchTask, cfg: SuiteConfig, work_dir: Path) -> PreparedTask:
        if not cfg.path:
            raise DataError(
                "suite genomic_benchmarks needs `path`: the interval folders (datasets/ of "
                "ML-Bioinfo-CEITEC/genomic_benchmarks) or a local export of seq,label CSVs"
            )
        root = Path(cfg.path).expanduser()
        if (root / task.name / "metadata.yaml").is_file():
            frames = self._from_intervals(root / task.name, cfg)
            return materialize(
                task,
                frames,
                cfg,
                work_dir,
                fingerprint={"intervals": str(root / task.name), "genomes": cfg.genomes},
            )
        frames = {s: self._export_split(root, task.name, s) for s in ("train", "dev", "test")}
        if frames["train"] is None and frames["test"] is None:
            return PreparedTask(
                task,
                None,
                missing=[f"genomic_benchmarks/{task.name}: neither intervals nor an export under {root}"],
            )
        return materialize(task, frames, cfg, work_dir, fingerprint={"export": str(root)})

    @staticmethod
    def _export_split(root: Path, dataset: str, split: str) -> pd.DataFrame | None:
        for p in (root / dataset / f"{split}.csv", root / f"{split}_{dataset}.csv"):
            if p.is_file():
                return read_labelled(p)
        return None

    def _from_intervals(self, folder: Path, cfg: SuiteConfig) -> dict[str, pd.DataFrame | None]:
        meta = yaml.safe_load((folder / "metadata.yaml").read_text())
        classes: dict[str, Any] = meta["classes"]
        refs = {c: str(v["url"]).rsplit("/", 1)[-1] for c, v in classes.items()}
        need = sorted(set(refs.values()) - set(cfg.genomes))
        if need:
            raise DataError(
                f"genomic_benchmarks/{folder.name} needs genomes for {', '.join(need)} (set the suite's "
                "genomes: {file name: local FASTA}; download them from the URLs in "
                f"{folder / 'metadata.yaml'})"
            )
        extras = _reference_processing(classes, refs, folder)
        opened: dict[str, Any] = {}
        frames: dict[str, pd.DataFrame | None] = {"dev": None}
        for split in ("train", "test"):
            parts = []
            for label, cls in enumerate(sorted(classes)):
                ref = refs[cls]
                if ref not in opened:
                    opened[ref] = _open_genome(Path(cfg.genomes[ref]).expanduser(), extras[ref])
                path = folder / split / f"{cls}.csv.gz"
                with open_input_text(path) as fh:  # a damaged .csv.gz is an error naming the file
                    iv = pd.read_csv(fh)
                seqs = sequences_from_intervals(iv, opened[ref], str(path))
                parts.append(pd.DataFrame({"sequence": seqs, "label": str(label)}))
            frames[split] = pd.concat(parts, ignore_index=True)
        return frames


register_suite(GenomicBenchmarksSuite())
