"""``genomefactory-cli benchmark``: the sweep models × methods × tasks × seeds, resumable.

Sweep folder (``output_dir``): ``config.yaml`` (resolved), ``data/`` (prepared task folders when a suite needs
them: subsampled, dev carved out, built from intervals), ``cells/<suite>/<task>/<model>/<method>/seed<N>/`` with
``cell.json`` (the marker: status ok / failed / skipped, score, metrics, timing) and ``run/`` (the trainer's run
directory), the reports written by :mod:`genomefactory.benchmark.report`, and ``manifest.json`` (resolved config,
versions, commit, SHA-256 of every split file the cells trained and were scored on and of the published/efficiency
CSVs).

Order of work: everything a sweep needs is checked before the first cell trains — the models and their merged
train configs, the published-scores and efficiency files (read and parsed), each suite's inputs — then the sweep
folder is made and every task is prepared; a sweep whose tasks all failed to prepare stops there. Cells are then
run (see :mod:`genomefactory.benchmark.cells`); a failing cell is recorded and the sweep goes on. The result's
``exit_code`` is 1 when any cell failed or was skipped (the CLI exits with it after printing the summary), else 0.
Progress lines on stdout look like ``[3/16] gue/tf/0 nucleotide_transformer lora seed=14: ok score=12.34 (4.1 s)``
(the web UI parses them).

Under ``torchrun`` / ``accelerate launch`` every rank walks the same sweep and each cell's training runs data
parallel through the trainer; rank 0 alone prepares task data, decides which cells to reuse (its decision is
broadcast, so all ranks train the same cells), writes markers, reports and the manifest, and prints progress.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError, deep_merge, dump_config, validate_dict
from ..dist import Ranks
from ..errors import DataError
from ..io import atomic_write_text, write_manifest
from ..train.config import TrainConfig
from .cells import CellPlan, run_one_cell
from .config import BenchmarkConfig, BenchmarkModel
from .published import read_efficiency, read_published, resolve_reference
from .report import CellRecord, aggregate, write_reports
from .suites import BenchTask, PreparedTask, get_suite

__all__ = ["BenchmarkResult", "run_benchmark"]

log = logging.getLogger("genomefactory.benchmark")


@dataclass
class BenchmarkResult:
    """What a sweep produced: every cell (this run's and reused ones) and the report files."""

    output_dir: Path
    cells: list[CellRecord]
    ran: int
    reused: int
    files: dict[str, Path] = field(default_factory=dict)
    table: str = ""

    def count(self, status: str) -> int:
        return sum(c.status == status for c in self.cells)

    @property
    def exit_code(self) -> int:
        """1 when a cell failed or was skipped (the tables are incomplete), else 0; the CLI exits with it."""
        return int(any(c.status != "ok" for c in self.cells))

    def summary(self) -> str:
        head = (
            f"sweep {self.output_dir}: {len(self.cells)} cells, {self.count('ok')} ok, {self.count('failed')} "
            f"failed, {self.count('skipped')} skipped; {self.ran} run now, {self.reused} reused"
        )
        lines = [head, self.table, *(f"{k}: {v}" for k, v in self.files.items())]
        if self.exit_code:
            lines.append(
                f"{len(self.cells) - self.count('ok')} cell(s) did not finish (see the report's failed and "
                "skipped cells): exit code 1"
            )
        return "\n".join(lines)


def _train_dict(cfg: BenchmarkConfig, model: BenchmarkModel, method: str, seed: int) -> dict[str, Any]:
    model_fields = model.model_dump(exclude={"label", "methods", "overrides"})
    base: dict[str, Any] = {
        "model": model_fields,
        "data": {"path": "<prepared task>", "max_length": cfg.max_length},
        "method": {**cfg.method.model_dump(), "name": method},
        "training": {**cfg.training.model_dump(), "seed": seed},
    }
    merged = deep_merge(base, model.overrides)
    merged["method"]["name"] = method  # the sweep's axes win over overrides
    merged["training"]["seed"] = seed
    return merged


def _check_models(cfg: BenchmarkConfig) -> None:
    """Fail before any training: duplicate labels, unknown families, invalid overrides."""
    from ..models.registry import get_family

    labels = [m.display_name() for m in cfg.models]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ConfigError(
            f"models: duplicate label(s) {', '.join(dup)}; give each model entry a distinct label"
        )
    for i, m in enumerate(cfg.models):
        if m.family is not None:  # None: detected from model.path when the model is loaded
            get_family(m.family)
        for method in _methods(cfg, m):
            try:
                validate_dict(
                    TrainConfig,
                    _train_dict(cfg, m, method, cfg.seeds[0]),
                    f"models[{i}] ({m.display_name()})",
                )
            except ConfigError as exc:
                raise ConfigError(
                    f"{exc}\n  (keys come from the shared sections and models[{i}].overrides)"
                ) from None


def _methods(cfg: BenchmarkConfig, m: BenchmarkModel) -> list[str]:
    return [x for x in cfg.methods if m.methods is None or x in m.methods]


def _check_references(cfg: BenchmarkConfig) -> list[Path]:
    """Read every published-scores and efficiency file now, so a bad one fails before any cell trains."""
    paths = []
    for i, name in enumerate(cfg.published_scores):
        path = resolve_reference(name, f"published_scores[{i}]")
        read_published(path)
        paths.append(path)
    if cfg.efficiency_csv:
        path = resolve_reference(cfg.efficiency_csv, "efficiency_csv")
        read_efficiency(path)
        paths.append(path)
    return paths


def _plan(cfg: BenchmarkConfig) -> tuple[list[tuple[Any, Any, list[BenchTask]]], dict[str, int]]:
    """(suite config, suite, selected tasks) per suite, each suite's inputs checked; and each suite's size."""
    plan: list[tuple[Any, Any, list[BenchTask]]] = []
    sizes: dict[str, int] = {}
    for s in cfg.suites:
        suite = get_suite(s.name)
        suite.check(s)
        plan.append((s, suite, suite.select(s)))
        sizes.setdefault(suite.name, len(suite.list_tasks(s)))
    return plan, sizes


def _prepare(suite: Any, task: BenchTask, scfg: Any, work: Path) -> tuple[PreparedTask | None, str | None]:
    try:
        prepared = suite.prepare(task, scfg, work)
    except Exception as exc:  # bad data is one task's problem, not the sweep's
        log.error("preparing %s/%s failed: %s", task.suite, task.name, exc)
        return None, f"data preparation failed: {type(exc).__name__}: {exc}"
    for m in prepared.missing:
        print(f"missing data: {m}", flush=True)
    for n in prepared.notes:
        log.info("%s/%s: %s", task.suite, task.name, n)
    return prepared, None


def _prepare_all(
    plan: list[tuple[Any, Any, list[BenchTask]]], work: Path, ranks: Ranks
) -> list[tuple[Any, BenchTask, PreparedTask | None, str | None]]:
    """Every task prepared (on rank 0, shared) before the first cell; raises when none can be trained."""
    done = []
    for scfg, suite, tasks in plan:
        for task in tasks:
            prepared, error = ranks.share(_prepare(suite, task, scfg, work) if ranks.main else (None, None))
            done.append((scfg, task, prepared, error))
    if done and all(p is None or p.missing for _, _, p, _ in done):
        reasons = [e or "; ".join(p.missing if p else []) for _, _, p, e in done]
        raise DataError(
            "benchmark: no task of the sweep has usable data, nothing was trained:\n  " + "\n  ".join(reasons)
        )
    return done


def _cell_plans(
    cfg: BenchmarkConfig, prepared: list[tuple[Any, BenchTask, PreparedTask | None, str | None]]
) -> list[CellPlan]:
    plans = []
    for scfg, task, prep, error in prepared:
        for model in cfg.models:
            for method in _methods(cfg, model):
                for seed in cfg.seeds:
                    plans.append(
                        CellPlan(
                            task,
                            model.display_name(),
                            model.init,
                            method,
                            seed,
                            _train_dict(cfg, model, method, seed),
                            prep,
                            error,
                            scfg.max_rows_per_split,
                        )
                    )
    return plans


def run_benchmark(cfg: BenchmarkConfig) -> BenchmarkResult:
    """Check every input, run (or resume) the sweep and write the reports; returns every cell's record."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    out = Path(cfg.output_dir)
    ranks = Ranks()
    _check_models(cfg)
    references = _check_references(cfg)
    plan, suite_sizes = _plan(cfg)
    fresh = not out.exists()
    if ranks.main:  # everything checked: the sweep folder is made now
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "config.yaml", dump_config(cfg))
    try:
        prepared = _prepare_all(plan, out / "data", ranks)
    except DataError:
        if fresh and ranks.main:  # nothing of this sweep is worth keeping
            shutil.rmtree(out, ignore_errors=True)
        raise
    plans = _cell_plans(cfg, prepared)
    n_tasks = len(prepared)
    if ranks.main:
        print(
            f"benchmark: {len(plans)} cells ({n_tasks} tasks × {len(plans) // max(n_tasks, 1)} model/method/seed "
            f"runs) in {out}" + (f" ({ranks.world} ranks)" if ranks.world > 1 else ""),
            flush=True,
        )
    inputs: list[Path] = list(references)
    for _, _, prep, _ in prepared:
        if prep is not None and prep.folder is not None:  # the split files the cells trained on
            inputs += [prep.folder / f"{s}.csv" for s in ("train", "dev", "test")]
    cells: list[CellRecord] = []
    ran = reused = 0
    for i, cell_plan in enumerate(plans, start=1):
        rec, did = run_one_cell(cell_plan, out, cfg, i, len(plans), ranks)
        cells.append(rec)
        ran += did
        reused += not did and rec.status == "ok"
    cells = ranks.share(cells)  # every rank returns rank 0's records (the ones on disk)
    agg = aggregate(cells, cfg, suite_sizes)
    files: dict[str, Path] = {}
    table = ""
    if ranks.main:
        files, table = write_reports(out, agg, cells, cfg)
        write_manifest(out, cfg.model_dump(mode="json"), inputs, None, "benchmark")
    ranks.barrier()
    return BenchmarkResult(out, cells, ran, reused, files, table)
