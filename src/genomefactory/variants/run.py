"""``genomefactory-cli variants``: score variant effects (streamed, resumable, sharded), write, evaluate.

Flow: every input is checked before the model is loaded (variant file read through once, genome opened and
indexed, output type matched to the input), then the requested scores are checked against the model (one
error naming the score and why); records are read ``compute.chunk_size`` at a time, scored
(:class:`~genomefactory.variants.scorer.Scorer`) and written as one part each; a rerun skips records the parts
already hold (same settings, else an error). At the end the parts are merged in input order into the output, a
manifest ``<output>.manifest.json`` is written and, when labels are configured, the evaluation.

Several processes (``torchrun --nproc_per_node N -m genomefactory.cli variants cfg.yaml``): every rank reads the
same chunks and scores its own contiguous slice of each chunk's records (neighbouring variants stay together, so
windows are still shared), writing part ``part-<chunk>-r<rank>``; rank 0 merges the parts in input order after a
barrier, exactly as a single process writes them.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import ConfigError
from ..dist import Ranks
from ..io import write_manifest
from ..models.loading import default_device
from .config import VariantsConfig
from .engine import ModelHandle, load_handle
from .evaluate import EvaluationResult, evaluate_rows, write_evaluation
from .io import VariantSource, open_variants
from .output import VCF_FORMATS, ScoreStore, output_format
from .reference import Reference
from .scorer import Scorer
from .scores import resolve_scores

__all__ = ["VariantsResult", "default_output", "run_variants"]

log = logging.getLogger("genomefactory.variants")


@dataclass
class VariantsResult:
    """What a ``variants`` run produced."""

    output: Path
    records: int  # input records
    rows: int  # output rows (variant allele x score output) of a row output; alleles x outputs for a VCF
    scored: int  # records scored by this run (the others were written by an interrupted earlier run)
    statuses: dict[str, int]  # allele statuses (first score output), over the whole output
    outputs: list[str]
    seconds: float
    evaluation: EvaluationResult | None = None
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        st = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items(), key=lambda kv: -kv[1]))
        lines = [
            f"scored {self.records} records ({self.scored} in this run) -> {self.output} in {self.seconds:.1f} s",
            f"scores: {', '.join(self.outputs)}",
            f"allele statuses: {st}",
            *self.warnings,
        ]
        if self.evaluation is not None:
            lines.append(self.evaluation.summary())
        return "\n".join(lines)


def default_output(source: VariantSource) -> Path:
    """``<input>.scored.vcf[.gz]`` for VCF/BCF input (bgzipped when the input is), ``<input>.scores.parquet`` else."""
    name = source.path.name
    for suffix in (".vcf.gz", ".vcf.bgz", ".vcf", ".bcf", ".tsv.gz", ".txt.gz", ".tsv", ".txt", ".tab"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    if source.kind == "vcf":
        gz = source.bgzipped or source.path.name.lower().endswith(".bcf")
        return source.path.with_name(name + (".scored.vcf.gz" if gz else ".scored.vcf"))
    return source.path.with_name(name + ".scores.parquet")


def _check_inputs(cfg: VariantsConfig) -> tuple[VariantSource, Reference, Path, str]:
    ev = cfg.evaluate
    source = open_variants(cfg.input, ev.label_column, ev.label_info)
    out = Path(cfg.output) if cfg.output else default_output(source)
    fmt = output_format(out)
    if not fmt:
        raise ConfigError(f"output {out}: unknown type; use .vcf, .vcf.gz, .parquet, .tsv or .csv")
    if fmt in VCF_FORMATS and source.kind != "vcf":
        raise ConfigError(
            f"output {out}: a VCF output needs a VCF input ({source.path} is a TSV); use .parquet or .tsv"
        )
    reference = Reference(cfg.genome, cfg.chrom_names, cfg.chrom_map)
    source.validate()
    return source, reference, out, fmt


def _settings(cfg: VariantsConfig) -> dict[str, Any]:
    """What determines the rows: a resumed run must match the run that wrote the existing parts."""
    keep = (
        "model",
        "scores",
        "rc_average",
        "chrom_names",
        "chrom_map",
        "window",
        "embedding",
        "input",
        "genome",
    )
    d = cfg.model_dump(mode="json")
    return {k: d[k] for k in keep} | {"precision": cfg.compute.precision, "seed": cfg.compute.seed}


def _check_resumable(store: ScoreStore, settings: dict[str, Any]) -> None:
    stored = store.stored_info()
    old = stored.get("settings") if stored else None
    if old is not None and old != settings:
        diff = {k: (old.get(k), v) for k, v in settings.items() if old.get(k) != v}
        raise ConfigError(
            f"output {store.output}: the unfinished parts in {store.parts_dir} were written with other settings "
            f"(setting: (written, now) = {diff}); set compute.resume: false to start over, or use another output"
        )


def _load(cfg: VariantsConfig, ranks: Ranks) -> ModelHandle:
    c = cfg.compute
    device = ranks.device(c.device, default_device())
    return load_handle(
        cfg.model,
        seed=c.seed,
        device=device,
        precision=c.precision,
        batch_size=c.batch_size,
        special_tokens=cfg.window.special_tokens,
    )


def _describe(cfg: VariantsConfig) -> str:
    m = cfg.model
    return f"model {m.path or m.family} ({'init ' + m.init if not m.path else 'path'})"


def _score_chunks(
    cfg: VariantsConfig,
    source: VariantSource,
    scorer: Scorer,
    store: ScoreStore,
    ranks: Ranks,
    info: dict[str, Any],
) -> int:
    from ..infer.embed import progress_bar

    done = store.done_records() if cfg.compute.resume else set()
    first = len(store.parts())  # new parts sort after an interrupted run's
    ranks.barrier()  # nobody writes a part before every rank has read the existing ones
    scored = 0
    with progress_bar(cfg.compute.progress and ranks.main, "variants") as bar:
        for index, chunk in enumerate(source.chunks(cfg.compute.chunk_size)):
            records = sorted({v.record for v in chunk} - done)
            bar(len({v.record for v in chunk}) - len(records))
            mine = set(records[ranks.my_slice(len(records))])
            todo = [v for v in chunk if v.record in mine]
            if todo:
                stem = f"part-{first + index:05d}" + (f"-r{ranks.rank:03d}" if ranks.world > 1 else "")
                store.write_rows(scorer.score(todo), info, stem)
                scored += len(mine)
            bar(len(records))
    return ranks.total([scored])[0]


def _finalize(
    cfg: VariantsConfig,
    source: VariantSource,
    store: ScoreStore,
    fmt: str,
    scorer: Scorer,
    info: dict[str, Any],
) -> tuple[pd.DataFrame, int]:
    rows = store.read_rows()
    if fmt in VCF_FORMATS:
        from .vcf_out import write_scored_vcf

        desc = {
            o: f"genomefactory variants score {o} (see the genomefactory README)" for o in scorer.outputs()
        }
        write_scored_vcf(source.path, rows, store.output, scorer.outputs(), cfg.info_prefix, desc)
        n = len(rows)
    else:
        n = store.finalize_rows(rows, fmt, info)
    return rows, n


def _unknown_contig_warnings(rows: pd.DataFrame, reference: Reference) -> list[str]:
    if rows.empty:
        return []
    names = sorted(set(rows.loc[rows["status"] == "unknown_contig", "chrom"].astype(str)))
    return [f"unknown contig {c!r}: {reference.hint(c)}" for c in names[:10]]


def run_variants(cfg: VariantsConfig) -> VariantsResult:
    """Score ``cfg.input`` against ``cfg.genome`` with ``cfg.model``; write ``cfg.output`` (+ manifest, evaluation)."""
    t0 = time.perf_counter()
    from ..models.loading import check_device

    check_device(cfg.compute.device, "compute.device")
    source, reference, out, fmt = _check_inputs(cfg)
    ranks = Ranks()
    store = ScoreStore(out, keep_previous=False)
    if not cfg.compute.resume and ranks.main:
        store.reset()
    ranks.barrier()
    settings = _settings(cfg)
    if cfg.compute.resume:
        _check_resumable(store, settings)
    handle = _load(cfg, ranks)
    scores = resolve_scores(cfg.scores, handle, _describe(cfg))
    scorer = Scorer(handle, reference, scores, cfg)
    orient = {o: s.orientation for s in scores for o in s.outputs(handle, cfg)} | dict(
        cfg.evaluate.orientation
    )
    info = {"settings": settings, "outputs": scorer.outputs(), "orientation": orient}
    scored = _score_chunks(cfg, source, scorer, store, ranks, info)
    ranks.barrier()
    result = VariantsResult(out, source.records, 0, scored, {}, scorer.outputs(), 0.0)
    if ranks.main:
        rows, result.rows = _finalize(cfg, source, store, fmt, scorer, info)
        first = rows[rows["score"] == scorer.outputs()[0]] if not rows.empty else rows
        result.statuses = dict(Counter(first["status"])) if not rows.empty else {}
        result.warnings = _unknown_contig_warnings(rows, reference)
        for w in result.warnings:
            log.warning(w)
        write_manifest(
            out.parent,
            cfg.model_dump(mode="json"),
            [cfg.input, cfg.genome],
            cfg.compute.seed,
            "variants",
            name=f"{out.name}.manifest.json",
        )
        store.reset()
        ev = cfg.evaluate
        if ev.label_column or ev.label_info:
            evaluation = evaluate_rows(rows, ev.positive_label, orient)
            result.evaluation = write_evaluation(evaluation, rows, out, ev.plots)
    ranks.barrier()
    reference.close()
    result.seconds = time.perf_counter() - t0
    return result
