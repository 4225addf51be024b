"""Caduceus on CPU: the blocked selective scan against the per-step loop, and model forward+backward throughput.

Usage: ``python benchmarks/caduceus_scan_speed.py [--threads 1] [--quick]``. Prints a table and writes
``benchmarks/results/caduceus_scan_speed.json``.

1. Scan: ``selective_scan`` (blocked scan, ~3·sqrt(L) vectorised steps, adjoint backward) vs
   ``selective_scan_reference`` (one Python step per token, autograd through the loop), Caduceus-131k mixer shape
   (channels 512, state 16, batch 1), forward and forward+backward.
2. Model: forward + backward (masked-LM loss) of Caduceus PS and PH at the published 1k shape (d_model 118,
   4 layers, random weights) on 1,024-token sequences: tokens/s and peak memory. Peak memory is the growth of the
   process's peak resident set during one step, measured in a fresh child process per model so earlier runs
   cannot hide it (CPU has no allocator statistics like CUDA's ``max_memory_allocated``).
Times are the best of ``--repeats`` runs after one warm-up (the minimum is the least disturbed by other load on a
shared machine).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

OUT = Path(__file__).resolve().parent / "results" / "caduceus_scan_speed.json"


def _best_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_scan(length: int, repeats: int, channels: int = 512, state: int = 16) -> dict[str, Any]:
    from genomefactory.models.layers.selective_scan import selective_scan, selective_scan_reference

    g = torch.Generator().manual_seed(0)
    u = torch.randn(1, channels, length, generator=g, requires_grad=True)
    delta = torch.randn(1, channels, length, generator=g, requires_grad=True)
    A = -torch.rand(channels, state, generator=g) * 8
    B, C = torch.randn(1, state, length, generator=g), torch.randn(1, state, length, generator=g)
    row: dict[str, Any] = {"length": length, "channels": channels, "state": state}
    for name, fn in (("blocked", selective_scan), ("loop", selective_scan_reference)):

        def fwd(fn: Callable[..., Any] = fn) -> None:
            with torch.no_grad():
                fn(u, delta, A, B, C, delta_softplus=True)

        def fwd_bwd(fn: Callable[..., Any] = fn) -> None:
            fn(u, delta, A, B, C, delta_softplus=True).sum().backward()

        row[f"{name}_fwd_ms"] = 1000 * _best_time(fwd, repeats)
        row[f"{name}_fwd_bwd_ms"] = 1000 * _best_time(fwd_bwd, repeats)
    row["speedup_fwd"] = row["loop_fwd_ms"] / row["blocked_fwd_ms"]
    row["speedup_fwd_bwd"] = row["loop_fwd_bwd_ms"] / row["blocked_fwd_bwd_ms"]
    return row


def _rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def _model_child(variant: str, batch: int, length: int, repeats: int, threads: int, q: Any) -> None:
    torch.set_num_threads(threads)
    from genomefactory.models.families.caduceus import CADUCEUS

    torch.manual_seed(0)
    model = CADUCEUS.build(CADUCEUS.published_config(variant)).train()
    ids = torch.randint(7, 11, (batch, length))

    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(ids, labels=ids).loss.backward()

    base = _rss_mib()
    step()  # first step sets the peak (activations + gradients)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    seconds = _best_time(step, repeats)
    params = sum(p.numel() for p in model.parameters())
    q.put(
        {
            "variant": variant,
            "params": params,
            "batch": batch,
            "length": length,
            "step_s": seconds,
            "tokens_per_s": batch * length / seconds,
            "peak_mem_mib": peak - base,
        }
    )


def bench_model(variant: str, batch: int, length: int, repeats: int, threads: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_model_child, args=(variant, batch, length, repeats, threads, q))
    p.start()
    row = q.get(timeout=1800)
    p.join()
    return dict(row)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: comparable runs)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="short lengths only (smoke run)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lengths = [256, 1024] if args.quick else [256, 1024, 4096]
    scan = [bench_scan(n, args.repeats) for n in lengths]
    models = [bench_model(v, 4, 1024, args.repeats, args.threads) for v in ("ps-1k", "ph-1k")]

    print(f"\nselective scan, channels 512, state 16, batch 1, {args.threads} thread(s); times in ms")
    print(f"{'length':>7} {'loop fwd':>9} {'blk fwd':>9} {'x':>5} {'loop f+b':>9} {'blk f+b':>9} {'x':>5}")
    for r in scan:
        print(
            f"{r['length']:>7} {r['loop_fwd_ms']:>9.1f} {r['blocked_fwd_ms']:>9.1f} {r['speedup_fwd']:>5.1f} "
            f"{r['loop_fwd_bwd_ms']:>9.1f} {r['blocked_fwd_bwd_ms']:>9.1f} {r['speedup_fwd_bwd']:>5.1f}"
        )
    print("\nCaduceus forward+backward (masked-LM loss), random weights, CPU")
    print(f"{'variant':>8} {'params':>9} {'batch x len':>12} {'step s':>7} {'tok/s':>8} {'peak MiB':>9}")
    for m in models:
        print(
            f"{m['variant']:>8} {m['params']:>9,} {m['batch']:>5} x {m['length']:<5} {m['step_s']:>7.2f} "
            f"{m['tokens_per_s']:>8.0f} {m['peak_mem_mib']:>9.0f}"
        )
    result = {
        "scan": scan,
        "model": models,
        "threads": args.threads,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "processor": platform.processor() or platform.platform(),
    }
    from genomefactory.io import atomic_path

    OUT.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(OUT) as tmp:
        Path(tmp).write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
