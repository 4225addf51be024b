"""Forward+backward throughput of DNABERT-2 at full size (117M, random weights) on the padded SDPA path.

Usage: ``python benchmarks/dnabert2_speed.py [--batch 8] [--length 128] [--steps 3] [--device cpu]``.
Tokens/s counts every position of the (batch, length) input, padding included; one step = forward, MLM-style
loss over all positions, backward. A second row uses a batch with 25% right padding (same tensor shape) to show
that the padding mask costs nothing extra on this path. Prints a table and writes
``benchmarks/results/dnabert2_speed.json`` atomically.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from genomefactory.io import atomic_path
from genomefactory.models import get_family

OUT = Path(__file__).resolve().parent / "results" / "dnabert2_speed.json"


def _step(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> None:
    logits = model(input_ids=ids, attention_mask=mask).logits
    logits.float().logsumexp(-1).mean().backward()
    model.zero_grad(set_to_none=True)


def _time(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor, steps: int, warmup: int) -> float:
    sync = torch.cuda.synchronize if ids.is_cuda else (lambda: None)
    for _ in range(warmup):
        _step(model, ids, mask)
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        _step(model, ids, mask)
    sync()
    return (time.perf_counter() - t0) / steps


def run(batch: int, length: int, steps: int, warmup: int, device: str, threads: int) -> dict[str, Any]:
    torch.manual_seed(0)
    if device == "cpu":
        torch.set_num_threads(threads)
    fam = get_family("dnabert2")
    model = fam.build(fam.published_config("117M")).to(device).train()
    ids = torch.randint(5, 4096, (batch, length), device=device)
    full = torch.ones_like(ids)
    padded = full.clone()
    padded[batch // 2 :, (3 * length) // 4 :] = 0  # half the rows lose their last quarter
    rows = []
    for name, mask in (("padded SDPA, no padding", full), ("padded SDPA, 12.5% padding", padded)):
        sec = _time(model, ids, mask, steps, warmup)
        rows.append(
            {
                "path": name,
                "seconds_per_step": sec,
                "tokens_per_s": batch * length / sec,
                "real_tokens_per_s": float(mask.sum()) / sec,
            }
        )
    return {
        "model": "dnabert2 117M (random init)",
        "params": sum(p.numel() for p in model.parameters()),
        "batch": batch,
        "length": length,
        "steps": steps,
        "warmup": warmup,
        "device": device,
        "device_name": torch.cuda.get_device_name()
        if device.startswith("cuda")
        else platform.processor() or "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "rows": rows,
        "varlen_path": "not built (issue 8)",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (keep it low on shared machines)")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    res = run(a.batch, a.length, a.steps, a.warmup, a.device, a.threads)
    print(
        f"DNABERT-2 117M fwd+bwd, batch {a.batch} x {a.length} tokens, {res['device']} ({res['threads']} threads)"
    )
    print(f"{'path':<30} {'s/step':>8} {'tokens/s':>10} {'real tok/s':>11}")
    for r in res["rows"]:
        print(
            f"{r['path']:<30} {r['seconds_per_step']:>8.3f} {r['tokens_per_s']:>10.0f} {r['real_tokens_per_s']:>11.0f}"
        )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(a.out) as tmp:
        Path(tmp).write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
