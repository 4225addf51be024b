"""``genomefactory-cli process``: build a labelled dataset, run QC on the whole pool, split, write.

Output folder: ``train.csv``, ``dev.csv``, ``test.csv`` (``sequence,label``; integer labels), ``labels.json``
(label id -> class name), ``qc_report.json`` (inputs; for each genome what sampling skipped — N gaps, pieces too
short for a fragment — and its expected coverage; warnings; every QC step's counts and reasons; split sizes;
leakage check; and ``repeat_leakage``: dev/test rows sharing a 32-mer with train through a genome's repeats),
histograms (PNG) and ``manifest.json``. Splits are by groups of overlapping regions (genome blocks for species
fragments), so no two splits share a base of the genome, and every class is in every split (or the command
refuses, naming the class). Species fragments are drawn from N-free stretches only. With
``qc.drop_repeat_leakage`` a last QC step, after the split, drops dev/test rows mostly present in train through
repeats; ``repeat_leakage`` is then measured on the survivors.

The output folder must be empty or absent (``overwrite: true`` writes over an earlier result); it is made after
every check and computation, just before the files are written.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserFileNotFoundError
from ..io import atomic_open, atomic_write_json, check_output_dir, write_manifest
from ..sequence import reverse_complement
from .config import GenomeInput, ProcessConfig, ProcessResult, SpeciesTask
from .leakage import drop_repeat_leakage, leakage_check
from .qc import run_qc
from .segment import (
    SamplingStats,
    SeqBatch,
    assign_splits,
    check_classes_in_splits,
    read_genome,
    sample_fragments,
)
from .source_table import check_region

log = logging.getLogger("genomefactory.collect")

SPLITS = ("train", "dev", "test")
OVERSAMPLING_WARN = (
    1.0  # expected coverage (fragment bases / sampleable bases) above which a genome is oversampled
)
_OUTPUTS = ("gc_histogram.png", "length_histogram.png")  # written only with plots: an old copy would mislead
_GENOME_SUFFIXES = (".fa", ".fna", ".fasta", ".fa.gz", ".fna.gz", ".fasta.gz", ".gb", ".gbk", ".gbff")


def _inputs_from_dir(folder: Path) -> list[GenomeInput]:
    listing = folder / "genomes.json"
    if listing.is_file():
        records = json.loads(listing.read_text())
        return [GenomeInput(path=folder / r["path"], label=r["organism"]) for r in records]
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(_GENOME_SUFFIXES))
    if not files:
        raise UserFileNotFoundError(
            f"species.input_dir {folder} holds no genome files ({', '.join(_GENOME_SUFFIXES)})"
        )
    return [GenomeInput(path=p) for p in files]


def _label_name(g: GenomeInput) -> str:
    if g.label:
        return g.label
    name = g.path.name
    for suffix in sorted(_GENOME_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return g.path.stem


def _genome_info(
    g: GenomeInput, label: int, contigs: list[Any], stats: SamplingStats, task: SpeciesTask, drawn: int
) -> dict[str, Any]:
    """What a genome gave: its size, what sampling skipped (N gaps, too-short pieces) and its coverage."""
    mean_len = (task.length.min + task.length.max) / 2
    coverage = task.fragments_per_species * mean_len / max(stats.sampleable_bp, 1)
    info = {
        "path": str(g.path),
        "label": label,
        "contigs": len(contigs),
        "bases": stats.bases,
        "fragments": drawn,
        "sampling": {
            **stats.to_dict(),
            "skipped_bp": stats.n_bases + stats.too_short_bp,
            "expected_coverage": round(coverage, 3),
        },
    }
    if stats.n_bases:
        log.info(
            "%s: %d N bases in %d gap(s) not sampled (fragments are drawn from N-free stretches)",
            g.path,
            stats.n_bases,
            stats.gaps,
        )
    if coverage > OVERSAMPLING_WARN:
        text = (
            f"{g.path}: {task.fragments_per_species:,} fragments of about {mean_len:.0f} bp from "
            f"{stats.sampleable_bp:,} sampleable bp is {coverage:.1f}x coverage: fragments overlap heavily and "
            "dev/test hold few independent regions; lower species.fragments_per_species or use a larger genome"
        )
        log.warning("%s", text)
        info["warning"] = text
    return info


def build_species(
    task: SpeciesTask, rng: np.random.Generator
) -> tuple[SeqBatch, dict[int, str], dict[str, Any], list[str | Path]]:
    inputs = list(task.genomes) + (_inputs_from_dir(task.input_dir) if task.input_dir else [])
    names: list[str] = []
    for g in inputs:
        if _label_name(g) not in names:
            names.append(_label_name(g))
    batches, info = [], []
    contig_offset = group_offset = 0
    for g in inputs:
        contigs = read_genome(g.path)
        label = names.index(_label_name(g))
        stats: list[SamplingStats] = []
        b = sample_fragments(
            contigs,
            task.fragments_per_species,
            task.length.min,
            task.length.max,
            label,
            rng,
            contig_offset,
            group_offset,
            stats=stats,
        )
        contig_offset += len(contigs)
        group_offset = int(b.groups.max()) + 1 if len(b) else group_offset
        batches.append(b)
        info.append(_genome_info(g, label, contigs, stats[0], task, len(b)))
    warnings = [i["warning"] for i in info if "warning" in i]
    return (
        SeqBatch.concat(batches),
        dict(enumerate(names)),
        {"genomes": info, "warnings": warnings},
        [g.path for g in inputs],
    )


def _build(
    cfg: ProcessConfig, rng: np.random.Generator
) -> tuple[SeqBatch, dict[int, str], dict[str, Any], list[str | Path]]:
    if cfg.task == "species":
        assert cfg.species is not None
        return build_species(cfg.species, rng)
    assert cfg.region is not None
    from .tasks import build_region_task

    return build_region_task(cfg.task, cfg.region, rng, Path(cfg.output_dir))


def _write_csv(path: Path, seqs: list[str], labels: np.ndarray) -> None:
    with atomic_open(path) as fh:
        fh.write("sequence,label\n")
        fh.writelines(f"{s},{int(lab)}\n" for s, lab in zip(seqs, labels, strict=True))


def check_process(cfg: ProcessConfig) -> None:
    """Start-of-command checks that need files: the output folder (empty, or ``overwrite``) and the named-sources
    table, before any download or sampling; nothing is created."""
    check_output_dir(cfg.output_dir, cfg.overwrite, "output_dir", ignore=("source_cache",))
    if cfg.task != "species" and cfg.region is not None:
        check_region(cfg.task, cfg.region)


def _split_rows(
    cfg: ProcessConfig, batch: SeqBatch, split: np.ndarray, rng: np.random.Generator
) -> dict[str, tuple[list[str], np.ndarray]]:
    """Each split's sequences and labels, shuffled (train with reverse complements when asked)."""
    seqs = batch.sequences()
    per_split: dict[str, tuple[list[str], np.ndarray]] = {}
    for k, name in enumerate(SPLITS):
        idx = np.flatnonzero(split == k)
        s, lab = [seqs[i] for i in idx], batch.labels[idx]
        if name == "train" and cfg.split.reverse_complement:
            s, lab = s + [reverse_complement(x) for x in s], np.concatenate([lab, lab])
        perm = rng.permutation(len(s))
        per_split[name] = ([s[i] for i in perm], lab[perm])
    return per_split


def _report(
    cfg: ProcessConfig,
    names: dict[int, str],
    build_info: dict[str, Any],
    initial: int,
    steps: list[dict[str, Any]],
    batch: SeqBatch,
    per_split: dict[str, tuple[list[str], np.ndarray]],
    leakage: Any,
    repeat_leakage: Any,
) -> dict[str, Any]:
    return {
        "task": cfg.task,
        "seed": cfg.seed,
        "labels": {str(k): v for k, v in names.items()},
        "build": build_info,
        "initial": initial,
        "steps": steps,
        "after_qc": len(batch),
        "removed_total": initial - len(batch),
        "survival": round(len(batch) / initial, 4) if initial else 0.0,
        "split_counts": {n: len(per_split[n][0]) for n in SPLITS},
        "split_counts_by_label": {
            n: {
                str(int(v)): int(c)
                for v, c in zip(*np.unique(per_split[n][1], return_counts=True), strict=False)
            }
            for n in SPLITS
        },
        "reverse_complement_augmented": cfg.split.reverse_complement,
        "leakage": leakage,
        "repeat_leakage": repeat_leakage,
        "warnings": build_info.get("warnings", []),
    }


def run_process(cfg: ProcessConfig) -> ProcessResult:
    """Build, QC, split and write a dataset as described by ``cfg``; the output folder is made last."""
    check_process(cfg)
    rng = np.random.default_rng(cfg.seed)
    raw, names, build_info, inputs = _build(cfg, rng)
    initial = len(raw)
    batch, steps = run_qc(raw, cfg.qc, rng)
    fractions = (cfg.split.train, cfg.split.dev, cfg.split.test)
    split = assign_splits(batch.groups, batch.labels, fractions, rng, names)
    batch, split, repeat_step, repeat_leakage = drop_repeat_leakage(batch, split, cfg.qc)
    if repeat_step is not None:
        steps.append(repeat_step)
        check_classes_in_splits(split, batch.labels, fractions, names)  # the drop may empty a class's split
    leakage = leakage_check(batch, split)
    per_split = _split_rows(cfg, batch, split, rng)
    report = _report(cfg, names, build_info, initial, steps, batch, per_split, leakage, repeat_leakage)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, (s, lab) in per_split.items():
        _write_csv(out / f"{name}.csv", s, lab)
    qc_path = out / "qc_report.json"
    atomic_write_json(qc_path, report)
    atomic_write_json(out / "labels.json", {str(k): v for k, v in names.items()})
    plots: list[Path] = []
    if cfg.plots:
        from .plots import histograms

        plots = histograms(out, per_split, names)
    else:
        for stale in _OUTPUTS:  # an earlier run's figures (overwrite) would describe other data
            (out / stale).unlink(missing_ok=True)
    write_manifest(out, cfg.model_dump(mode="json"), list(inputs), cfg.seed, "process")
    return ProcessResult(out, report["split_counts"], names, qc_path, plots)
