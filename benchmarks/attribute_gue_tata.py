"""Real data: what do ISM attributions of a promoter classifier point at on GUE ``prom_core_tata``?

Usage: ``python benchmarks/attribute_gue_tata.py [--task ../shared/data/gue/prom/prom_core_tata] [--epochs 10]``.
Model: a tiny ``hf_auto`` backbone (``init: tiny``, seed 0: random weights, no pre-training) with a CNN adapter,
trained here by ``genomefactory-cli train`` on the task's train split (CPU). Then ``attribute`` (ISM) on the
test split. Analysis, over the test promoters (label 1) the model calls promoters: for each, the 6-base window
with the largest summed contribution; how often that window matches the TATA-box consensus ``TATAWAW``'s core
``TATAWA`` (W = A/T), against how often a random 6-base window of the same sequences does; the most frequent
top windows; the position profile of the mean contribution. Writes ``benchmarks/results/attribute_gue_tata.json``
and the attribute report under ``benchmarks/results/attribute_gue_tata/``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from genomefactory.config import validate_dict
from genomefactory.interpret.attribute.config import AttributeConfig
from genomefactory.interpret.attribute.run import run_attribute
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = Path(os.environ.get("GENOMEFACTORY_SHARED_DATA", ROOT.parent / "shared" / "data"))
TATA = re.compile(r"TATA[AT]A")
K = 6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default=str(SHARED / "gue" / "prom" / "prom_core_tata"))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-sequences", type=int, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="attr_tata_"))
    t0 = time.perf_counter()
    run_train(
        validate_dict(
            TrainConfig,
            {
                "model": {"family": "hf_auto", "init": "tiny"},
                "data": {"path": args.task},
                "method": {
                    "name": "adapter",
                    "adapter": {
                        "kind": "cnn",
                        "cnn_channels": 32,
                        "dropout": 0.1,
                        "cache_dir": str(work / "c"),
                    },
                },
                "training": {
                    "epochs": args.epochs,
                    "learning_rate": 3e-3,
                    "lr_scheduler": "constant",
                    "warmup_ratio": 0.0,
                    "eval_steps": 200,
                    "seed": 0,
                },
                "output_dir": str(work / "run"),
            },
        )
    )
    t_train = time.perf_counter() - t0
    metrics = json.loads((work / "run" / "metrics.json").read_text())
    cfg = validate_dict(
        AttributeConfig,
        {
            "run_dir": str(work / "run"),
            "input": args.task,
            "split": "test",
            "methods": ["ism"],
            "max_sequences": args.max_sequences,
            "compute": {"device": "cpu", "batch_size": 128},
            "output_dir": str(work / "attr"),
        },
    )
    res = run_attribute(cfg)
    arr = np.load(work / "attr" / "attributions.npz")
    per = pd.read_parquet(work / "attr" / "sequences.parquet")
    test = pd.read_csv(Path(args.task) / "test.csv").iloc[: len(per)]
    con = arr["ism.contribution"]
    called = (per["label"].astype(int) == 1) & (per["ism_f_x"] > 0)  # promoters called promoters
    rng = np.random.default_rng(0)
    top_words, hits, random_hits, top_pos = [], 0, 0, []
    for n in np.flatnonzero(called.to_numpy()):
        s = test["sequence"].iloc[n]
        win = np.convolve(con[n, : len(s)], np.ones(K), mode="valid")  # summed contribution of each window
        at = int(np.argmax(win))
        word = s[at : at + K]
        top_words.append(word)
        top_pos.append(at)
        hits += bool(TATA.fullmatch(word))
        r = int(rng.integers(0, len(s) - K + 1))
        random_hits += bool(TATA.fullmatch(s[r : r + K]))
    n_called = int(called.sum())
    pos_rows = np.flatnonzero((per["label"].astype(int) == 1).to_numpy())
    neg_rows = np.flatnonzero((per["label"].astype(int) == 0).to_numpy())
    out = {
        "benchmark": "attribute_gue_tata",
        "task": str(Path(args.task).name),
        "model": "hf_auto init: tiny (random weights, seed 0) + CNN adapter (32 channels), trained here",
        "epochs": args.epochs,
        "train_seconds": t_train,
        "test_metrics": metrics.get("test", metrics),
        "torch_threads": args.threads,
        "ism_seconds": res.seconds["ism"],
        "test_sequences": len(per),
        "promoters_called_promoters": n_called,
        "top_window_matches_TATAWA": hits / max(n_called, 1),
        "random_window_matches_TATAWA": random_hits / max(n_called, 1),
        "top_window_start_median": float(np.median(top_pos)) if top_pos else None,
        "most_common_top_windows": collections.Counter(top_words).most_common(15),
        "mean_contribution_profile_promoters": np.round(con[pos_rows].mean(0), 4).tolist(),
        "mean_contribution_profile_non_promoters": np.round(con[neg_rows].mean(0), 4).tolist(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "attribute_gue_tata.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    dest = RESULTS / "attribute_gue_tata"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir()
    for name in ("report.md", "report.html", "summary.json"):
        shutil.copy(work / "attr" / name, dest / name)
    shutil.copytree(work / "attr" / "plots", dest / "plots")
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({k: v for k, v in out.items() if "profile" not in k}, indent=1, default=str))


if __name__ == "__main__":
    main()
