"""``genomefactory-cli motifs``: attributions -> TF-MoDISco patterns -> TOMTOM matches -> report."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...io import check_output_dir, write_manifest
from .config import MotifsConfig
from .discover import Pattern

log = logging.getLogger("genomefactory.interpret")

__all__ = ["MotifsResult", "run_motifs"]


@dataclass
class MotifsResult:
    output: Path  # report.md
    patterns: list[Pattern]
    info: dict[str, Any]
    seconds: float

    def summary(self) -> str:
        lines = [f"motifs -> {self.output} ({len(self.patterns)} patterns, {self.seconds:.1f} s)"]
        for p in self.patterns:
            best = (
                f"{p.matches[0].name} ({p.matches[0].id}, q={p.matches[0].q_value:.2g})" if p.matches else "-"
            )
            lines.append(f"  {p.name}: {p.n_seqlets} seqlets, {p.role}; best match {best}")
        return "\n".join(lines)


def run_motifs(cfg: MotifsConfig) -> MotifsResult:
    from .database import load_motif_db
    from .discover import classify_patterns, run_modisco
    from .inputs import check_sources, load_inputs
    from .match import tomtom_matches
    from .report import write_motif_report

    t0 = time.perf_counter()
    out = Path(cfg.output)
    check_sources(cfg)
    check_output_dir(out, overwrite=cfg.overwrite, key="output")
    d = cfg.database
    db = load_motif_db(d.meme_file, d.release, d.collection, d.tax_group)
    inp = load_inputs(cfg)
    target = cfg.target
    if target is None:
        target = int(inp.labels.max()) if inp.labels is not None else 1
    m = cfg.modisco
    patterns = run_modisco(
        inp.one_hot,
        inp.hypothetical,
        window=m.window,
        flank=m.flank,
        min_metacluster_size=m.min_metacluster_size,
        max_seqlets=m.max_seqlets,
        min_cluster_size=m.min_cluster_size,
        n_leiden_runs=m.n_leiden_runs,
        trim_threshold=m.trim_threshold,
    )
    classify_patterns(patterns, inp.one_hot, inp.labels, target, cfg.alpha)
    for p, matches in zip(
        patterns, tomtom_matches([p.ppm.T for p in patterns], db, cfg.top_matches), strict=True
    ):
        p.matches = matches
    info: dict[str, Any] = {
        "source": inp.source,
        "n_sequences": len(inp.one_hot),
        "length": int(inp.one_hot.shape[1]),
        "target": target,
        "class_sizes": {
            str(k): int(v) for k, v in zip(*np.unique(inp.labels, return_counts=True), strict=True)
        }
        if inp.labels is not None
        else None,
        "database": db.source,
        "n_motifs": len(db),
        "alpha": cfg.alpha,
    }
    report = write_motif_report(out, info, patterns)
    inputs = [p for p in (cfg.attributions_file, cfg.data_file, cfg.database.meme_file) if p]
    write_manifest(out, cfg.model_dump(mode="json"), inputs, None, "motifs")
    return MotifsResult(report, patterns, info, time.perf_counter() - t0)
