"""ISM speed: the batched saturation mutagenesis of ``interpret.attrib`` against a one-mutant-per-forward loop.

Usage: ``python benchmarks/ism_speed.py [--n 8] [--lengths 100,200] [--batch 128] [--threads 1]``.
Tiny random task models (``init: tiny``, seed 0, a 2-class head, fp32, CPU): HyenaDNA (one token per base:
mutant token rows by substituting one id) and Nucleotide Transformer (6-mer tokens: every mutant re-tokenized).
``--n`` random sequences of each length.

- batched: :func:`genomefactory.interpret.attrib.ism.ism_deltas` (the reference forward once per sequence,
  every mutant of several sequences in length-grouped batches of ``--batch`` rows, no padding between rows of
  equal token length);
- naive loop: for each sequence the reference forward, then for each position and each of the 3 other bases,
  build the mutant string, tokenize it and run it alone (batch 1).

Both give the same deltas (the max difference is reported). Prints sequences/s of each and the ratio; writes
``benchmarks/results/ism_speed.json``. Times: the best of ``--repeats`` runs after a warm-up.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genomefactory.interpret.attrib import Predictor
from genomefactory.interpret.attrib.ism import ism_deltas
from genomefactory.models.config import ModelConfig
from genomefactory.models.loading import load_backbone
from genomefactory.train.config import MethodConfig
from genomefactory.train.methods import build_task_model

OUT = Path(__file__).resolve().parent / "results" / "ism_speed.json"


def predictor(family: str, batch: int) -> Predictor:
    torch.manual_seed(0)
    bb = load_backbone(ModelConfig(family=family, init="tiny"))
    model = build_task_model(bb, MethodConfig(name="full"), "classification", 2).eval()
    return Predictor(model, bb.tokenizer, "classification", 2, 4096, batch_size=batch)


def naive(pred: Predictor, seqs: list[str]) -> list[np.ndarray]:
    def f(s: str) -> float:
        ids = torch.tensor([pred.encode_many([s])[0][0]])
        with torch.inference_mode():
            return float(pred.scalar(pred.logits(ids, torch.ones_like(ids)))[0])

    out = []
    for s in seqs:
        ref = f(s)
        d = np.zeros((len(s), 4))
        for i, ch in enumerate(s):
            for j, b in enumerate("ACGT"):
                if b != ch:
                    d[i, j] = f(s[:i] + b + s[i + 1 :]) - ref
        out.append(d)
    return out


def best_time(fn: Any, repeats: int) -> tuple[float, Any]:
    fn()  # warm-up
    best, res = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t0)
    return best, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=8, help="sequences per length")
    ap.add_argument("--naive-n", type=int, default=2, help="sequences timed in the (slow) naive loop")
    ap.add_argument("--lengths", default="100,200")
    ap.add_argument("--families", default="hyenadna,nucleotide_transformer")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = random.Random(0)
    rows = []
    for family in args.families.split(","):
        pred = predictor(family, args.batch)
        for length in (int(x) for x in args.lengths.split(",")):
            seqs = ["".join(rng.choice("ACGT") for _ in range(length)) for _ in range(args.n)]
            t_b, (deltas, _, notes) = best_time(functools.partial(ism_deltas, pred, seqs), args.repeats)
            sub = seqs[: args.naive_n]
            t_n, slow = best_time(functools.partial(naive, pred, sub), 1)
            diff = max(float(np.abs(a - b).max()) for a, b in zip(deltas, slow, strict=False))
            row = {
                "family": family,
                "length": length,
                "mutant_tokens": notes["mutant_tokens"],
                "batched_seq_per_s": args.n / t_b,
                "naive_seq_per_s": len(sub) / t_n,
                "speedup": (args.n / t_b) / (len(sub) / t_n),
                "max_abs_diff": diff,
                "batched_s": t_b,
                "naive_s": t_n,
                "sequences_batched": args.n,
                "sequences_naive": len(sub),
            }
            rows.append(row)
            print(
                f"{family:24s} L={length:4d}  batched {row['batched_seq_per_s']:8.2f} seq/s  naive "
                f"{row['naive_seq_per_s']:7.3f} seq/s  x{row['speedup']:6.1f}  max|diff| {diff:.1e}",
                flush=True,
            )
    result = {
        "benchmark": "ism_speed",
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores_visible": os.cpu_count(),
            "torch_threads": args.threads,
            "device": "cpu",
            "torch": torch.__version__,
        },
        "model_init": "tiny random (seed 0), full task model with 2-class head, fp32, eval mode",
        "batch_rows": args.batch,
        "repeats": args.repeats,
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
