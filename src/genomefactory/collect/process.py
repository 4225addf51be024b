"""``genomefactory-cli process``: build a labelled dataset, run QC on the whole pool, split, write.

Output folder: ``train.csv``, ``dev.csv``, ``test.csv`` (``sequence,label``; integer labels), ``labels.json``
(label id -> class name), ``qc_report.json`` (inputs, every QC step's counts and reasons, split sizes, leakage
check, and ``repeat_leakage``: dev/test rows sharing a 32-mer with train through a genome's repeats), histograms
(PNG) and ``manifest.json``. Splits are by groups of overlapping regions (genome blocks for species fragments), so
no two splits share a base of the genome. With ``qc.drop_repeat_leakage`` a last QC step, after the split, drops
dev/test rows mostly present in train through repeats; ``repeat_leakage`` is then measured on the survivors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserFileNotFoundError
from ..io import atomic_open, atomic_write_json, write_manifest
from ..sequence import reverse_complement
from .config import GenomeInput, ProcessConfig, ProcessResult, SpeciesTask
from .leakage import drop_repeat_leakage, leakage_check
from .qc import run_qc
from .segment import SeqBatch, assign_splits, read_genome, sample_fragments
from .source_table import check_region

SPLITS = ("train", "dev", "test")
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
        b = sample_fragments(
            contigs,
            task.fragments_per_species,
            task.length.min,
            task.length.max,
            label,
            rng,
            contig_offset,
            group_offset,
        )
        contig_offset += len(contigs)
        group_offset = int(b.groups.max()) + 1 if len(b) else group_offset
        batches.append(b)
        info.append(
            {
                "path": str(g.path),
                "label": label,
                "contigs": len(contigs),
                "bases": int(sum(c.seq.size for c in contigs)),
                "fragments": len(b),
            }
        )
    return SeqBatch.concat(batches), dict(enumerate(names)), {"genomes": info}, [g.path for g in inputs]


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
    """Start-of-command checks that need files (the named-sources table): before any download or sampling."""
    if cfg.task != "species" and cfg.region is not None:
        check_region(cfg.task, cfg.region)


def run_process(cfg: ProcessConfig) -> ProcessResult:
    """Build, QC, split and write a dataset as described by ``cfg``."""
    check_process(cfg)
    rng = np.random.default_rng(cfg.seed)
    raw, names, build_info, inputs = _build(cfg, rng)
    initial = len(raw)
    batch, steps = run_qc(raw, cfg.qc, rng)
    fractions = (cfg.split.train, cfg.split.dev, cfg.split.test)
    split = assign_splits(batch.groups, batch.labels, fractions, rng)
    batch, split, repeat_step, repeat_leakage = drop_repeat_leakage(batch, split, cfg.qc)
    if repeat_step is not None:
        steps.append(repeat_step)
    leakage = leakage_check(batch, split)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    seqs = batch.sequences()
    counts: dict[str, int] = {}
    per_split: dict[str, tuple[list[str], np.ndarray]] = {}
    for k, name in enumerate(SPLITS):
        idx = np.flatnonzero(split == k)
        s, lab = [seqs[i] for i in idx], batch.labels[idx]
        if name == "train" and cfg.split.reverse_complement:
            s, lab = s + [reverse_complement(x) for x in s], np.concatenate([lab, lab])
        perm = rng.permutation(len(s))
        s, lab = [s[i] for i in perm], lab[perm]
        _write_csv(out / f"{name}.csv", s, lab)
        counts[name] = len(s)
        per_split[name] = (s, lab)
    report = {
        "task": cfg.task,
        "seed": cfg.seed,
        "labels": {str(k): v for k, v in names.items()},
        "build": build_info,
        "initial": initial,
        "steps": steps,
        "after_qc": len(batch),
        "removed_total": initial - len(batch),
        "survival": round(len(batch) / initial, 4) if initial else 0.0,
        "split_counts": counts,
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
    }
    qc_path = out / "qc_report.json"
    atomic_write_json(qc_path, report)
    atomic_write_json(out / "labels.json", {str(k): v for k, v in names.items()})
    plots: list[Path] = []
    if cfg.plots:
        from .plots import histograms

        plots = histograms(out, per_split, names)
    write_manifest(out, cfg.model_dump(mode="json"), list(inputs), cfg.seed, "process")
    return ProcessResult(out, counts, names, qc_path, plots)
