"""Embedding throughput: length-grouped batches against one sequence at a time, on the same data.

Usage: ``python benchmarks/embed_throughput.py [--family genomeocean] [--n 200] [--batch 16] [--device cpu]``.
Random DNA of mixed lengths (100–2,000 bp, seeded) is embedded (mean pooling) with a tiny random model of the
family (``--init tiny``) by ``Embedder`` with ``batch_size=--batch`` (batches sorted by length) and with
``batch_size=1``. Reports sequences/s and tokens/s (real tokens, padding not counted), prints a table and writes
``benchmarks/results/embed_throughput.json``. Throughputs are medians of ``--repeats`` runs after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

import torch

from genomefactory.infer.embed import Embedder, load_for_inference
from genomefactory.models import ModelConfig

OUT = Path(__file__).resolve().parent / "results" / "embed_throughput.json"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", default="genomeocean")
    ap.add_argument("--init", default="tiny")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = random.Random(0)
    seqs = ["".join(rng.choice("ACGT") for _ in range(rng.randint(100, 2000))) for _ in range(args.n)]
    backbone = load_for_inference(ModelConfig(family=args.family, init=args.init))  # type: ignore[arg-type]
    device = torch.device(args.device)
    rows = []
    for label, bs in (("length-grouped", args.batch), ("one at a time", 1)):
        emb = Embedder(backbone, "mean", batch_size=bs, device=device)
        emb.embed(seqs[:8])  # warm-up
        times, tokens = [], 0
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            _, _, ntok = emb.embed(seqs)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
            tokens = sum(ntok)
        t = statistics.median(times)
        rows.append(
            {
                "mode": label,
                "batch_size": bs,
                "seconds": t,
                "seq_per_s": len(seqs) / t,
                "tok_per_s": tokens / t,
            }
        )
    print(f"{args.family} ({args.init}), {args.n} sequences 100-2000 bp, device {args.device}")
    print(f"{'mode':<16}{'batch':>6}{'s':>9}{'seq/s':>10}{'tok/s':>12}")
    for r in rows:
        print(
            f"{r['mode']:<16}{r['batch_size']:>6}{r['seconds']:>9.2f}{r['seq_per_s']:>10.1f}{r['tok_per_s']:>12.0f}"
        )
    print(f"speed-up of length grouping: {rows[1]['seconds'] / rows[0]['seconds']:.2f}x")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
