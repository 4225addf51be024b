"""Motifs on real data: fine-tune a tiny model on GUE prom_core_tata, attribute, TF-MoDISco, TOMTOM vs JASPAR.

Does a TATA-box-like pattern (TBP, MA0108) appear among the patterns that drive the promoter class?

    nice -n 10 python benchmarks/motifs_prom_core_tata.py [--out benchmarks/results/motifs_prom_core_tata]

Model: hf_auto tiny (2-layer random BERT, character tokens) with a CNN adapter trained by our trainer (CPU,
seeded); attributions: input x gradient (one token per base); data: GUE prom_core_tata from
$GENOMEFACTORY_SHARED_DATA (70-bp core promoters, label 1 = promoter). The report, logos and JSON are written to
``--out``; ``summary.json`` adds timings, the model's test metrics and whether a TBP/TATA match was found.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch

from genomefactory.config import validate_dict
from genomefactory.interpret.motifs.config import MotifsConfig
from genomefactory.interpret.motifs.run import run_motifs
from genomefactory.io import atomic_write_json
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GENOMEFACTORY_SHARED_DATA", ROOT.parent / "shared" / "data"))
TATA_IDS = ("MA0108",)  # TBP; a TATA-like consensus is also checked below


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "motifs_prom_core_tata"))
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--sequences", type=int, default=1200)
    args = ap.parse_args()
    task = DATA / "gue" / "prom" / "prom_core_tata"
    work = Path(tempfile.mkdtemp(prefix="motifs_tata_"))
    out = Path(args.out)
    t0 = time.perf_counter()
    train = validate_dict(
        TrainConfig,
        {
            "model": {"family": "hf_auto", "init": "tiny"},
            "data": {"path": str(task)},
            "method": {
                "name": "adapter",
                "adapter": {
                    "kind": "cnn",
                    "cnn_channels": 64,
                    "cnn_kernel_size": 9,
                    "cache_dir": str(work / "c"),
                },
            },
            "training": {
                "epochs": args.epochs,
                "batch_size": 32,
                "learning_rate": 5e-3,
                "lr_scheduler": "constant",
                "warmup_ratio": 0.0,
                "logging_steps": 50,
                "seed": 0,
            },
            "output_dir": str(work / "run"),
        },
    )
    run_train(train)
    metrics = json.loads((work / "run" / "metrics.json").read_text())
    t_train = time.perf_counter() - t0
    cfg = validate_dict(
        MotifsConfig,
        {
            "run_dir": str(work / "run"),
            "data_file": str(task / "train.csv"),
            "method": "input_x_gradient",
            "max_sequences": args.sequences,
            "modisco": {"window": 15, "flank": 5, "min_metacluster_size": 30, "min_cluster_size": 10},
            "output": str(out),
            "overwrite": True,
        },
    )
    res = run_motifs(cfg)
    tata = [
        {"pattern": p.name, "role": p.role, "match": m.id, "name": m.name, "rank": m.rank, "q": m.q_value}
        for p in res.patterns
        for m in p.matches
        if m.id.startswith(TATA_IDS) or "TATA" in "".join("ACGT"[int(i)] for i in p.ppm.argmax(1))
    ]
    summary = {
        "task": "GUE prom_core_tata",
        "model": "hf_auto tiny (2-layer random BERT, char tokens) + CNN adapter, trained here",
        "epochs": args.epochs,
        "test_metrics": metrics.get("test", metrics),
        "sequences_attributed": args.sequences,
        "patterns": [
            {
                "name": p.name,
                "n_seqlets": p.n_seqlets,
                "role": p.role,
                "best": p.matches[0].as_dict() if p.matches else None,
            }
            for p in res.patterns
        ],
        "tata_like": tata,
        "seconds": {"train": round(t_train, 1), "motifs": round(res.seconds, 1)},
        "machine": {"cpu_threads": torch.get_num_threads(), "platform": platform.platform()},
    }
    atomic_write_json(out / "summary.json", summary)
    print(res.summary())
    print(json.dumps(summary["tata_like"] or "no TATA-like pattern", indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
