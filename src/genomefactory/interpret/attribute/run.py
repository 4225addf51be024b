"""``genomefactory-cli attribute``: explain a trained run's predictions base by base.

Order of work: config and output folder checked, inputs read and validated (coordinates too), the model loaded,
then each method computed on the full sequences (ISM mutates only the kept window, the rest stays as context),
cut to the window, and written (see :mod:`.outputs` for the layouts), then the report and the manifest.
The explained scalar is the target class's log-odds (classification) or the output (regression); see
:mod:`genomefactory.interpret.attrib.predictor`. Token -> base mapping for k-mer / BPE tokenizers: see
:mod:`genomefactory.interpret.attrib.gradients` (a token's score split evenly over the bases it covers) and
:mod:`genomefactory.interpret.attrib.ism` (every mutant re-tokenized).
"""

from __future__ import annotations

import importlib.util
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import missing_extra
from ...io import atomic_write_json, check_output_dir, write_manifest
from .config import AttributeConfig
from .inputs import read_inputs
from .outputs import Kept, cut, kept_lengths, write_arrays, write_bigwig, write_modisco, write_tables

__all__ = ["AttributeResult", "run_attribute"]

log = logging.getLogger("genomefactory.attribute")


@dataclass
class AttributeResult:
    output_dir: Path
    sequences: int
    methods: list[str]
    files: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        took = ", ".join(f"{m} {s:.1f} s" for m, s in self.seconds.items())
        return (
            f"attributions of {self.sequences} sequences ({took}) written to {self.output_dir}: "
            + ", ".join(sorted(self.files))
        )


def _check_run(run_dir: str) -> None:
    """``run_dir`` holds a loadable training-run model (checked before any work: a bad folder is one line)."""
    import json

    from ...errors import DataError
    from ...models.detect import check_run_meta
    from ...train.task_types import is_per_base

    meta = check_run_meta(run_dir, "run_dir")
    task = str(json.loads(meta.read_text()).get("task_type", ""))
    if is_per_base(task):
        raise DataError(
            f"run_dir {run_dir} is a {task} run (one output per base): attributions explain one scalar per "
            "sequence (a class log-odds or a regression value); train a sequence-level classification or "
            "regression run to attribute"
        )


def run_attribute(cfg: AttributeConfig) -> AttributeResult:
    out = check_output_dir(cfg.output_dir, cfg.overwrite)
    if any(m != "ism" for m in cfg.methods) and importlib.util.find_spec("captum") is None:
        raise missing_extra("the gradient attribution methods", "captum", "attrib")
    _check_run(cfg.run_dir)
    from ...models.loading import check_device

    check_device(cfg.compute.device, "compute.device")
    inputs = read_inputs(cfg)  # bad input is refused before the model loads
    from ..attrib import attribute, load_predictor, one_hot

    pred = load_predictor(
        cfg.run_dir, target=cfg.target, device=cfg.compute.device, batch_size=cfg.compute.batch_size
    )
    lo = cfg.window_start
    lengths = kept_lengths(inputs.sequences, lo, cfg.window_end)
    width = int(lengths.max())
    onehot = np.zeros((len(lengths), width, 4), dtype=np.float32)
    full = one_hot(inputs.sequences)
    for n, k in enumerate(lengths):
        onehot[n, :k] = full[n, lo : lo + k]
    kept: list[Kept] = []
    seconds: dict[str, float] = {}
    for method in cfg.methods:
        t0 = time.perf_counter()
        # captum's internal batch (path points x sequences per forward) defaults to the run's batch size
        inner = cfg.gradient.internal_batch_size or cfg.compute.batch_size
        settings = cfg if method == "ism" else cfg.gradient.model_copy(update={"internal_batch_size": inner})
        res = attribute(pred, inputs.sequences, method, settings)
        seconds[method] = time.perf_counter() - t0
        log.info("%s: %d sequences in %.1f s", method, len(lengths), seconds[method])
        kept.append(cut(res, lengths, lo))
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    write_arrays(out / "attributions.npz", inputs, onehot, lengths, lo, kept)
    files["attributions.npz"] = "arrays (N, W, 4) / (N, W) per method"
    write_tables(out, inputs, lengths, lo, kept)
    files.update({"tracks.parquet": "one row per base", "sequences.parquet": "one row per sequence"})
    write_modisco(out / "modisco", onehot, kept)
    files["modisco/"] = "ohe.npz + shap.npz per method, (N, 4, W) for `modisco motifs`"
    if inputs.intervals is not None:
        for k in kept:
            write_bigwig(out / f"{k.method}.bw", inputs, lengths, lo, k)
            files[f"{k.method}.bw"] = "bigWig, reference coordinates"
    from .report import write_report

    files.update(write_report(out, cfg, inputs, onehot, lengths, lo, kept, pred_info(pred)))
    summary = {
        "sequences": len(lengths),
        "window": [lo, cfg.window_end],
        "coordinates": inputs.coordinates_from,
        "target": pred.target,
        "task_type": pred.task_type,
        "seconds": seconds,
        "methods": {k.method: {"notes": k.notes, **_stats(k)} for k in kept},
        "files": files,
    }
    atomic_write_json(out / "summary.json", summary)
    inputs_used = [str(inputs.path)] + ([cfg.coordinates.bed_file] if cfg.coordinates.bed_file else [])
    write_manifest(out, cfg.model_dump(mode="json"), inputs_used, None, "attribute")
    return AttributeResult(out, len(lengths), list(cfg.methods), files, seconds)


def pred_info(pred: object) -> dict[str, object]:
    return {k: getattr(pred, k) for k in ("task_type", "num_labels", "target", "max_length")}


def _stats(k: Kept) -> dict[str, float]:
    stats = {
        "mean_abs_contribution": float(np.abs(k.contribution).mean()),
        "mean_f_x": float(k.f_x.mean()),
    }
    if "convergence_delta" in k.extra:
        stats["max_abs_convergence_delta"] = float(np.abs(k.extra["convergence_delta"]).max())
    return stats
