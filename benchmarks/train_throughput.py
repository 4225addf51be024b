"""Training throughput per method: trainable parameters, peak memory, tokens/s (non-padding tokens).

Compares length-grouped dynamic padding against padding every batch to the model maximum, on the same data in
the same run. Data: variable-length fragments (200-1000 bp) of the real C. diphtheriae genome from
``../shared/data/genomes`` (a seeded random genome when that folder is absent), random binary labels.
Each cell runs in a fresh subprocess so peak memory (CUDA max allocated, or the process's peak RSS on CPU) is
its own.

    python benchmarks/train_throughput.py [--family nucleotide_transformer] [--steps 20] [--batch 16]
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import platform
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
GENOME = ROOT.parent / "shared" / "data" / "genomes" / "GCF_001457455.1_NCTC11397_genomic.fna.gz"


def fragments(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    if GENOME.is_file():
        with gzip.open(GENOME, "rt") as fh:
            genome = "".join(line.strip() for line in fh if not line.startswith(">")).upper()
    else:
        genome = "".join(rng.choice(list("ACGT"), size=2_000_000))
    out = []
    for _ in range(n):
        size = int(rng.integers(200, 1001))
        start = int(rng.integers(0, len(genome) - size))
        out.append(genome[start : start + size])
    return out


def _cell(family: str, method: str, padding: str, steps: int, batch: int, n: int, q: Any) -> None:
    from genomefactory.models import ModelConfig, load_backbone
    from genomefactory.train.config import MethodConfig
    from genomefactory.train.data import PadCollator, tokenize
    from genomefactory.train.methods import build_task_model, count_parameters

    torch.manual_seed(0)
    torch.set_num_threads(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    bb = load_backbone(ModelConfig(family=family, init="tiny"))
    model = build_task_model(bb, MethodConfig(name=method), "classification", 2).to(device)  # type: ignore[arg-type]
    trainable, _ = count_parameters(model)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    tok = bb.tokenizer
    max_len = min(bb.max_tokens, 512)
    ids, _ = tokenize(tok, fragments(n), max_len, "benchmark")
    labels = np.random.default_rng(1).integers(0, 2, size=n)
    if padding == "grouped":
        order = np.argsort([len(x) for x in ids], kind="stable")
        batches = [order[i : i + batch] for i in range(0, n, batch)]
        np.random.default_rng(2).shuffle(batches)  # type: ignore[arg-type]
    else:
        order = np.random.default_rng(2).permutation(n)
        batches = [order[i : i + batch] for i in range(0, n, batch)]
    collate = PadCollator(tok.pad_token_id, tok.padding_side, torch.long)
    model.train()
    tokens = 0
    t0 = 0.0
    for step in range(steps + 2):  # two warm-up steps excluded from the timing
        if step == 2:
            t0 = time.perf_counter()
        idx = batches[step % len(batches)]
        items = [{"input_ids": ids[i], "labels": int(labels[i])} for i in idx]
        b = collate(items)
        if padding == "max":  # pad every batch to the model maximum
            width = max_len
            pad = width - b["input_ids"].shape[1]
            left = tok.padding_side == "left"
            padder = (pad, 0) if left else (0, pad)
            b["input_ids"] = torch.nn.functional.pad(b["input_ids"], padder, value=tok.pad_token_id)
            b["attention_mask"] = torch.nn.functional.pad(b["attention_mask"], padder, value=0)
        b = {k: v.to(device) for k, v in b.items()}
        loss = model(**b).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step >= 2:
            tokens += int(b["attention_mask"].sum())
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = time.perf_counter() - t0
    q.put(
        {
            "family": family,
            "method": method,
            "padding": padding,
            "trainable_params": trainable,
            "peak_mem_mib": round(peak, 1),
            "tokens_per_s": round(tokens / seconds, 1),
            "steps": steps,
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--family", default="nucleotide_transformer")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rows", type=int, default=512)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_throughput.json"))
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    rows = []
    for method in ("full", "lora", "adapter"):
        for padding in ("grouped", "max"):
            q = ctx.Queue()
            p = ctx.Process(
                target=_cell, args=(args.family, method, padding, args.steps, args.batch, args.rows, q)
            )
            p.start()
            rows.append(q.get())
            p.join()
    print(f"{'method':8} {'padding':8} {'trainable':>10} {'peak MiB':>9} {'tokens/s':>10}")
    for r in rows:
        print(
            f"{r['method']:8} {r['padding']:8} {r['trainable_params']:>10,} {r['peak_mem_mib']:>9.0f} "
            f"{r['tokens_per_s']:>10.0f}"
        )
    ratios = {}
    for method in ("full", "lora", "adapter"):
        g = next(r for r in rows if r["method"] == method and r["padding"] == "grouped")
        m = next(r for r in rows if r["method"] == method and r["padding"] == "max")
        ratios[method] = round(g["tokens_per_s"] / m["tokens_per_s"], 2)
    print("grouped/max-padding tokens/s ratio:", ratios)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "device": "cuda" if torch.cuda.is_available() else platform.processor() or "cpu",
                "date": time.strftime("%Y-%m-%d"),
                "settings": vars(args),
                "rows": rows,
                "grouped_over_max": ratios,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
