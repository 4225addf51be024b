"""Function of the fine-tuned score: SNVs that break a planted motif against neutral SNVs far from any motif.

Usage: ``python benchmarks/variant_function.py [--train 800] [--length 80] [--epochs 16] [--seeds 0,1,2]``.

1. A planted-motif classification task (:func:`genomefactory.variants.demo.plant_task`: random 80-bp sequences,
   label 1 = the motif once on a random strand, label 0 = no motif or a one-mismatch decoy) trains a tiny
   ``hf_auto`` CNN adapter through ``genomefactory.train.finetune.run_train`` on the CPU.
2. A separate genome (contigs ``chr7``, ``scaffold_12.1``, ``Contig-x``) gets motif sites on both strands,
   including the first and last bases of contigs; one SNV per site breaks it (label 1) and as many neutral SNVs
   lie at least 100 bp from every site (label 0).
3. ``genomefactory-cli variants`` (Python API) scores them with the run (``finetuned`` score, windows of 80 bp,
   forward and with RC averaging) and evaluates AUROC / AUPRC of ``|finetuned_delta_p1|``.

Prints a table per seed and writes ``benchmarks/results/variant_function.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from genomefactory.config import validate_dict
from genomefactory.records import read_fasta
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train
from genomefactory.variants.config import VariantsConfig
from genomefactory.variants.demo import plant_genome, plant_task, plant_variants, write_vcf
from genomefactory.variants.run import run_variants

OUT = Path(__file__).resolve().parent / "results" / "variant_function.json"
CONTIGS = {"chr7": 4000, "scaffold_12.1": 3000, "Contig-x": 2500}


def train(root: Path, args: argparse.Namespace, seed: int) -> tuple[Path, dict[str, float], float]:
    data = plant_task(root / "task", n=args.train, length=args.length, seed=seed)
    cfg = validate_dict(
        TrainConfig,
        {
            "model": {"family": "hf_auto", "init": "tiny"},
            "data": {"path": str(data)},
            "method": {
                "name": "adapter",
                "adapter": {
                    "kind": "cnn",
                    "cnn_channels": 32,
                    "cnn_kernel_size": 9,
                    "dropout": 0.0,
                    "cache_dir": str(root / "cache"),
                },
            },
            "training": {
                "epochs": args.epochs,
                "batch_size": 32,
                "learning_rate": 5e-3,
                "lr_scheduler": "constant",
                "warmup_ratio": 0.0,
                "eval_steps": 125,
                "logging_steps": 50,
                "seed": seed,
            },
            "output_dir": str(root / "run"),
        },
    )
    t0 = time.perf_counter()
    result = run_train(cfg)
    return root / "run", result.test_metrics, time.perf_counter() - t0


def score(root: Path, run: Path, args: argparse.Namespace, seed: int, rc: bool) -> dict[str, Any]:
    sites = plant_genome(root / "genome.fa", CONTIGS, sites_per_contig=args.sites, seed=100 + seed)
    genome = dict(read_fasta(root / "genome.fa"))
    rows = plant_variants(genome, sites, n_neutral=args.neutral, seed=100 + seed)
    vcf = write_vcf(rows, root / "variants.vcf", CONTIGS)
    cfg = validate_dict(
        VariantsConfig,
        {
            "model": {"path": str(run)},
            "input": str(vcf),
            "genome": str(root / "genome.fa"),
            "output": str(root / f"scored_rc{int(rc)}.vcf"),
            "window": {"size": args.length},
            "rc_average": rc,
            "evaluate": {"label_info": "LABEL", "plots": False},
            "compute": {"progress": False, "resume": False},
        },
    )
    t0 = time.perf_counter()
    res = run_variants(cfg)
    assert res.evaluation is not None
    m = res.evaluation.metrics["finetuned_delta_p1"]
    return {
        "rc_average": rc,
        "auroc": m["auroc"],
        "auprc": m["auprc"],
        "n": m["n"],
        "n_positive": m["n_positive"],
        "statuses": res.statuses,
        "score_seconds": time.perf_counter() - t0,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=800, help="training sequences")
    ap.add_argument("--length", type=int, default=80)
    ap.add_argument("--epochs", type=float, default=16)
    ap.add_argument("--sites", type=int, default=10, help="motif sites per contig")
    ap.add_argument("--neutral", type=int, default=90)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            run, metrics, secs = train(Path(tmp), args, seed)
            for rc in (False, True):
                results.append(
                    {
                        "seed": seed,
                        "train_seconds": secs,
                        "classifier_test_accuracy": metrics["accuracy"],
                        **score(Path(tmp), run, args, seed, rc),
                    }
                )
    print(
        f"{'seed':>4} {'rc':>3} {'train s':>8} {'clf acc':>8} {'AUROC':>6} {'AUPRC':>6} {'n':>4} {'pos':>4}"
    )
    for r in results:
        print(
            f"{r['seed']:4d} {int(r['rc_average']):3d} {r['train_seconds']:8.1f} {r['classifier_test_accuracy']:8.3f} "
            f"{r['auroc']:6.3f} {r['auprc']:6.3f} {r['n']:4d} {r['n_positive']:4d}"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"settings": vars(args), "results": results}, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
