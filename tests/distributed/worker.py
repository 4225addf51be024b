"""Run by ``torchrun`` from ``test_torchrun.py``: train (full, cached adapter), embed and run a benchmark sweep
under data parallel.

Argument: a JSON file ``{"train": [config overrides, ...], "embed": config overrides, "benchmark": config,
"out": folder}``. Every rank writes ``<out>/rank<r>.json`` with what it saw (metrics, cache hits, result files, the
embedding row count, the sweep's cells).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from genomefactory.benchmark.config import BenchmarkConfig
from genomefactory.benchmark.run import run_benchmark
from genomefactory.config import load_config, validate_dict
from genomefactory.infer.config import InferenceConfig
from genomefactory.infer.embed import run_embed
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train


def main(spec_path: str) -> None:
    torch.set_num_threads(1)
    spec = json.loads(Path(spec_path).read_text())
    rank = int(os.environ["RANK"])
    report: dict[str, object] = {"world": int(os.environ["WORLD_SIZE"]), "train": []}
    for overrides in spec["train"]:
        res = run_train(load_config(TrainConfig, None, overrides))
        report["train"].append(
            {
                "dev": res.dev_metrics,
                "test": res.test_metrics,  # type: ignore[union-attr]
                "cache_hits": res.feature_cache_hits,
                "files": sorted(res.files),
            }
        )
    emb = run_embed(load_config(InferenceConfig, None, spec["embed"]))
    report["embed"] = {"rows": emb.rows, "embedded": emb.embedded}
    sweep = run_benchmark(validate_dict(BenchmarkConfig, spec["benchmark"]))
    report["benchmark"] = {
        "cells": [[c.status, c.score] for c in sweep.cells],
        "ran": sweep.ran,
        "files": sorted(sweep.files),
    }
    (Path(spec["out"]) / f"rank{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
