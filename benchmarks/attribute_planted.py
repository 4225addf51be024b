"""Do the attributions point at a planted motif? ``attribute`` on a classifier of a planted motif.

Usage: ``python benchmarks/attribute_planted.py [--n 800] [--length 80] [--epochs 16] [--threads 1]``.
Data: :func:`genomefactory.variants.demo.plant_task` (random background; label 1 = the motif ``TGACTCAGCA`` or
its reverse complement at a random position; half the label-0 sequences hold a one-base decoy). Model: a tiny
``hf_auto`` backbone (``init: tiny``, seed 0) with a CNN adapter trained by our trainer (as the variants README
example). Then ``genomefactory-cli attribute`` on the test split with ``ism``, ``integrated_gradients`` and
``input_x_gradient``.

Per method, over the positive test sequences: the share of sum |contribution| that falls on the motif's bases
(chance = motif length / sequence length) and how often the single largest-|contribution| base lies in the motif.
Writes ``benchmarks/results/attribute_planted.json`` and the run's report under
``benchmarks/results/attribute_planted/`` (report.md, report.html, plots).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from genomefactory.config import validate_dict
from genomefactory.interpret.attribute.config import AttributeConfig
from genomefactory.interpret.attribute.run import run_attribute
from genomefactory.sequence import reverse_complement
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train
from genomefactory.variants.demo import MOTIF, plant_task

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=800)
    ap.add_argument("--length", type=int, default=80)
    ap.add_argument("--epochs", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="attr_planted_"))
    data = plant_task(work / "task", n=args.n, length=args.length, seed=0)
    t0 = time.perf_counter()
    train = {
        "model": {"family": "hf_auto", "init": "tiny"},
        "data": {"path": str(data)},
        "method": {
            "name": "adapter",
            "adapter": {"kind": "cnn", "cnn_channels": 32, "dropout": 0.0, "cache_dir": str(work / "cache")},
        },
        "training": {
            "epochs": args.epochs,
            "learning_rate": 5e-3,
            "lr_scheduler": "constant",
            "warmup_ratio": 0.0,
            "eval_steps": 125,
            "seed": 0,
        },
        "output_dir": str(work / "run"),
    }
    result = run_train(validate_dict(TrainConfig, train))
    t_train = time.perf_counter() - t0
    metrics = json.loads((work / "run" / "metrics.json").read_text())
    cfg = validate_dict(
        AttributeConfig,
        {
            "run_dir": str(work / "run"),
            "input": str(data),
            "split": "test",
            "methods": ["ism", "integrated_gradients", "input_x_gradient"],
            "compute": {"device": "cpu"},
            "output_dir": str(work / "attr"),
        },
    )
    res = run_attribute(cfg)
    arr = np.load(work / "attr" / "attributions.npz")
    seqs = [line.split(",")[0] for line in (data / "test.csv").read_text().splitlines()[1:]]
    labels = [int(line.split(",")[1]) for line in (data / "test.csv").read_text().splitlines()[1:]]
    rows = {}
    for method in cfg.methods:
        con = np.abs(arr[f"{method}.contribution"])
        share, top_hit, n_pos = [], [], 0
        for n, (s, y) in enumerate(zip(seqs, labels, strict=True)):
            at = s.find(MOTIF)
            at = at if at >= 0 else s.find(reverse_complement(MOTIF))
            if y != 1 or at < 0:
                continue
            n_pos += 1
            inside = con[n, at : at + len(MOTIF)].sum()
            share.append(float(inside / max(con[n, : len(s)].sum(), 1e-12)))
            top_hit.append(at <= int(np.argmax(con[n, : len(s)])) < at + len(MOTIF))
        rows[method] = {
            "positives": n_pos,
            "mean_share_of_abs_attribution_on_motif": float(np.mean(share)),
            "chance_share": len(MOTIF) / args.length,
            "top_base_in_motif_rate": float(np.mean(top_hit)),
            "seconds": res.seconds[method],
        }
        print(
            f"{method:22s} share on motif {rows[method]['mean_share_of_abs_attribution_on_motif']:.3f} "
            f"(chance {len(MOTIF) / args.length:.3f})  top base in motif {rows[method]['top_base_in_motif_rate']:.2f}"
            f"  {res.seconds[method]:.1f} s",
            flush=True,
        )
    out = {
        "benchmark": "attribute_planted",
        "data": {"n_train": args.n, "length": args.length, "motif": MOTIF, "test_sequences": len(seqs)},
        "model": "hf_auto init: tiny (seed 0) + CNN adapter (32 channels), trained by genomefactory train",
        "train_seconds": t_train,
        "test_metrics": {k: v for k, v in metrics.items() if "test" in k} or metrics,
        "torch_threads": args.threads,
        "methods": rows,
        "train_result": str(result.summary()) if hasattr(result, "summary") else None,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "attribute_planted.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    dest = RESULTS / "attribute_planted"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir()
    for name in ("report.md", "report.html", "summary.json"):
        shutil.copy(work / "attr" / name, dest / name)
    shutil.copytree(work / "attr" / "plots", dest / "plots")
    shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {RESULTS / 'attribute_planted.json'} and {dest}")


if __name__ == "__main__":
    main()
