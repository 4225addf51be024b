"""Does continued pre-training on the shared genomes help a tiny model on a GUE task? Pre-trained vs random init.

Arm "pretrained": a tiny HyenaDNA (random init) pre-trained with ``pretrain`` (causal LM) on the shared genomes
(C. diphtheriae NCTC11397 chromosome, phage lambda held out for validation perplexity, Y. pestis pPCP1, HIV-1),
once, with seed 0. Arm "random": the same architecture from random init. Both are then fine-tuned (method full,
the same steps, batch, learning rate and seeds) on GUE ``prom/prom_core_tata`` with a seeded, class-stratified
subsample of the training split (``--train-rows``), a subsample of dev (``--dev-rows``, for picking the best
checkpoint) and the **full** test split; test MCC of both arms for every seed, whatever the result, and the
pre-training cost in seconds. Writes ``benchmarks/results/pretrain_then_finetune.{json,md}``.

Usage: ``nice python benchmarks/pretrain_then_finetune.py [--pretrain-steps 400] [--seeds 1 2 3] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from genomefactory.config import validate_dict
from genomefactory.io import atomic_write_json, atomic_write_text
from genomefactory.pretrain.config import PretrainConfig
from genomefactory.pretrain.run import run_pretrain
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GENOMEFACTORY_SHARED_DATA", ROOT.parent / "shared" / "data"))
GENOMES = [
    "GCF_001457455.1_NCTC11397_genomic.fna.gz",
    "lambda_NC_001416.1.fasta.gz",
    "NC_005816.fna",
    "NC_001802.fna",
]
TASK = "prom/prom_core_tata"
FAMILY = "hyenadna"
TINY = {"d_model": 64, "n_layer": 2, "d_inner": 256}  # the same architecture in both arms


def subsample(src: Path, dst: Path, rows: dict[str, int | None], seed: int) -> dict[str, Any]:
    """Class-stratified seeded subsample of each split (``None`` = all rows); returns the counts."""
    dst.mkdir(parents=True, exist_ok=True)
    counts: dict[str, Any] = {}
    for split, n in rows.items():
        df = pd.read_csv(src / f"{split}.csv")
        full = len(df)
        if n is not None and n < full:
            parts = [g.sample(round(n * len(g) / full), random_state=seed) for _, g in df.groupby("label")]
            df = pd.concat(parts).sample(frac=1.0, random_state=seed)
        df.to_csv(dst / f"{split}.csv", index=False)
        counts[split] = {"rows": len(df), "of": full, "label_1": int((df.label == 1).sum())}
    return counts


def finetune(
    model: dict[str, Any], task: Path, out: Path, seed: int, args: argparse.Namespace
) -> dict[str, Any]:
    cfg = validate_dict(
        TrainConfig,
        {
            "model": model,
            "data": {"path": str(task)},
            "method": {"name": "full", "head_dropout": 0.1},
            "training": {
                "epochs": args.epochs,
                "batch_size": 32,
                "eval_batch_size": 128,
                "learning_rate": args.lr,
                "seed": seed,
                "logging_steps": 50,
            },
            "output_dir": str(out),
        },
    )
    start, cpu = time.perf_counter(), time.process_time()
    res = run_train(cfg)
    return {
        "cpu_seconds": time.process_time() - cpu,
        "seed": seed,
        "test_mcc": res.test_metrics["mcc"],
        "dev_mcc": res.dev_metrics["mcc"],
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pretrain-steps", type=int, default=400)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--train-rows", type=int, default=1500)
    ap.add_argument("--dev-rows", type=int, default=300)
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="pretrain_ft_"))
    # the plain FASTAs are copied so pyfaidx builds its .fai in the work folder, not in the shared data
    paths = []
    for g in GENOMES:
        src = DATA / "genomes" / g
        dst = work / "genomes" / g
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
        paths.append(str(dst))
    t0, cpu0 = time.perf_counter(), time.process_time()
    pre = run_pretrain(
        validate_dict(
            PretrainConfig,
            {
                "model": {"family": FAMILY, "init": "tiny", "tiny_overrides": TINY},
                "data": {
                    "paths": paths,
                    "window": args.window,
                    "val_contigs": ["NC_001416.1"],
                    "val_windows": 64,
                },
                "training": {
                    "max_steps": args.pretrain_steps,
                    "batch_size": 16,
                    "learning_rate": 3e-3,
                    "eval_steps": max(1, args.pretrain_steps // 4),
                    "seed": 0,
                    "logging_steps": 50,
                },
                "output_dir": str(work / "pretrain"),
            },
        )
    )
    pretrain_wall, pretrain_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    task = work / "task"
    counts = subsample(
        DATA / "gue" / TASK, task, {"train": args.train_rows, "dev": args.dev_rows, "test": None}, 0
    )
    arms = {
        "random": {"family": FAMILY, "init": "tiny", "tiny_overrides": TINY},
        "pretrained": {"path": str(pre.files["model"])},
    }
    runs: dict[str, list[dict[str, Any]]] = {a: [] for a in arms}
    for seed in args.seeds:
        for arm, model in arms.items():
            runs[arm].append(finetune(model, task, work / f"ft_{arm}_{seed}", seed, args))
            print(arm, runs[arm][-1], flush=True)
    summary = {
        arm: {
            "test_mcc_mean": statistics.mean(r["test_mcc"] for r in rs),
            "test_mcc_sd": statistics.stdev(r["test_mcc"] for r in rs) if len(rs) > 1 else 0.0,
        }
        for arm, rs in runs.items()
    }
    result = {
        "model": {
            "family": FAMILY,
            "init": "tiny (random init, seeded)",
            "tiny_overrides": TINY,
            "parameters": pre.parameters,
        },
        "pretraining": {
            "genomes": GENOMES,
            "held_out": "NC_001416.1 (phage lambda)",
            "objective": pre.objective,
            "window_bases": args.window,
            "steps": pre.steps,
            "batch_size": 16,
            "seconds_train": pre.train_seconds,
            "seconds_wall": pretrain_wall,
            "cpu_seconds": pretrain_cpu,
            "val_perplexity_curve": pre.curve,
        },
        "finetuning": {
            "task": f"GUE {TASK}",
            "subsample": counts,
            "subsample_rule": "class-stratified, pandas sample(random_state=0); test split complete",
            "method": "full",
            "epochs": args.epochs,
            "batch_size": 32,
            "learning_rate": args.lr,
            "seeds": args.seeds,
            "runs": runs,
            "summary": summary,
        },
        "total_wall_seconds": time.perf_counter() - t0,
        "machine": {
            "load_average_at_end": os.getloadavg(),
            "cpus": os.cpu_count(),
            "cpu": platform.processor() or platform.machine(),
            "torch_threads": args.threads,
            "cuda": torch.cuda.is_available(),
            "host": platform.node(),
        },
    }
    out = Path(args.out)
    atomic_write_json(out / "pretrain_then_finetune.json", result)
    atomic_write_text(out / "pretrain_then_finetune.md", report(result))
    print(report(result))


def report(r: dict[str, Any]) -> str:
    p, f = r["pretraining"], r["finetuning"]
    curve = ", ".join(f"{s}: {v:.3f}" for s, v in p["val_perplexity_curve"])
    lines = [
        "# Pre-trained vs random init, fine-tuned on one GUE task",
        "",
        f"Model: tiny {r['model']['family']} ({r['model']['parameters']:,} parameters, "
        f"{r['model']['tiny_overrides']}), random init with a fixed seed in both arms. CPU, "
        f"{r['machine']['torch_threads']} torch threads, `nice`, on a {r['machine']['cpus']}-core machine shared with "
        f"other jobs (load average {r['machine']['load_average_at_end'][2]:.1f} over the last 15 min at the end; "
        f"whole experiment {r['total_wall_seconds']:.0f} s wall), so times are indicative; CPU seconds are less "
        "load-dependent.",
        "",
        f"Pre-training ({p['objective']}, {p['steps']} steps × {p['batch_size']} windows of {p['window_bases']} bases) "
        f"on {', '.join(p['genomes'])}; held out: {p['held_out']}. Cost: {p['seconds_train']:.0f} s of training "
        f"({p['seconds_wall']:.0f} s wall with loading and validation, {p['cpu_seconds']:.0f} s of CPU time). "
        f"Validation perplexity (lambda, never trained on) by step: {curve}.",
        "",
        f"Fine-tuning: {f['task']}, method {f['method']}, {f['epochs']} epochs, batch {f['batch_size']}, "
        f"learning rate {f['learning_rate']}, the same for both arms. Subsample ({f['subsample_rule']}): "
        + ", ".join(f"{k} {v['rows']} of {v['of']}" for k, v in f["subsample"].items())
        + ".",
        "",
        "| arm | " + " | ".join(f"seed {s}" for s in f["seeds"]) + " | mean ± sd |",
        "|---|" + "---|" * (len(f["seeds"]) + 1),
    ]
    for arm, rs in f["runs"].items():
        s = f["summary"][arm]
        lines.append(
            f"| {arm} | "
            + " | ".join(f"{x['test_mcc']:.3f}" for x in rs)
            + f" | {s['test_mcc_mean']:.3f} ± {s['test_mcc_sd']:.3f} |"
        )
    lines += ["", "Test MCC on the complete test split; reported whatever the outcome."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
