"""Activation checkpointing on CPU: peak memory and step time of one training step, with and without.

Usage: ``python benchmarks/checkpointing_memory.py [--threads 1] [--dnabert2-length 1024] [--hyena-length 8192]``.
Prints a table and writes ``benchmarks/results/checkpointing_memory.json``.

Workload: one full fine-tuning step (forward through the headless backbone via ``family.encode``, mean pooling, a
fixed linear readout as the loss, backward into every parameter) of random-weight models at published shapes:
DNABERT-2 (117M, 12 layers, attention: activations grow with L²) and HyenaDNA medium-160k (8 layers, d_model 256,
long convolutions: activations grow with L), batch 1, in train mode. Each (model, checkpointing) cell runs in a
fresh child process so the high-water marks do not mix:

- ``peak_rss_growth_mib``: growth of the process's peak resident set (``ru_maxrss``) during the first step over its
  resident set just before it — what the step costs in RAM (CPU has no ``max_memory_allocated``); it includes the
  parameter gradients (4 bytes per parameter, the same with and without) and allocator noise.
- ``saved_for_backward_mib``: activation bytes autograd keeps for backward during the forward, counted exactly
  with ``saved_tensors_hooks``, each storage once (weights excluded; tensors that checkpointing drops are not seen).
- ``seconds_per_step``: the second step, one sample on a shared machine (the recompute costs about one extra
  forward pass, so expect roughly 1.3x).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import resource
import time
from pathlib import Path
from typing import Any

import torch

OUT = Path(__file__).resolve().parent / "results" / "checkpointing_memory.json"


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _cases(dnabert2_length: int, hyena_length: int) -> list[tuple[str, str, dict[str, Any], int]]:
    from genomefactory.models.registry import get_family

    hy = get_family("hyenadna").published_config("medium-160k")
    return [
        ("DNABERT-2 117M", "dnabert2", get_family("dnabert2").published_config("117M"), dnabert2_length),
        ("HyenaDNA medium-160k", "hyenadna", {**hy, "max_seq_len": hyena_length + 2}, hyena_length),
    ]


def _child(family: str, config: dict[str, Any], length: int, ckpt: bool, threads: int, queue: Any) -> None:
    torch.set_num_threads(threads)
    from genomefactory.models.checkpointing import enable_checkpointing
    from genomefactory.models.registry import get_family

    fam = get_family(family)
    torch.manual_seed(0)
    base = fam.base(fam.build(config)).train()
    if ckpt:
        enable_checkpointing(fam, base)
    ids = torch.randint(7, 11, (1, length))  # token ids of nucleotides in both vocabularies' low range
    mask = torch.ones_like(ids)
    readout = torch.randn(fam.hidden_size(config))

    def loss() -> torch.Tensor:
        states = fam.encode(base, ids, mask).last_hidden_state
        return (states.mean(1) * readout).sum()

    weights = {p.untyped_storage().data_ptr() for p in base.parameters()}
    kept: dict[int, int] = {}  # storage -> bytes: a tensor saved by several ops (a shared bias) is held once

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in weights:  # weights saved by linears are not activations
            kept[storage.data_ptr()] = storage.nbytes()
        return t

    rss_before = _rss_mib()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss().backward()  # the first step: peak memory (gradients included) and the exact saved-tensor count
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    loss().backward()
    seconds = time.perf_counter() - start
    queue.put(
        {
            "params": sum(p.numel() for p in base.parameters()),
            "seconds_per_step": seconds,
            "peak_rss_mib": peak,
            "peak_rss_growth_mib": peak - rss_before,
            "saved_for_backward_mib": sum(kept.values()) / 2**20,
        }
    )


def run(dnabert2_length: int, hyena_length: int, threads: int) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    rows = []
    for name, family, config, length in _cases(dnabert2_length, hyena_length):
        for ckpt in (False, True):
            queue = ctx.Queue()
            proc = ctx.Process(target=_child, args=(family, config, length, ckpt, threads, queue))
            proc.start()
            result = queue.get()
            proc.join()
            rows.append(
                {
                    "model": name,
                    "family": family,
                    "length": length,
                    "batch": 1,
                    "gradient_checkpointing": ckpt,
                    **result,
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dnabert2-length", type=int, default=1024)
    ap.add_argument("--hyena-length", type=int, default=8192)
    args = ap.parse_args()
    rows = run(args.dnabert2_length, args.hyena_length, args.threads)
    print(f"one full fine-tuning step, batch 1, {args.threads} thread(s), CPU")
    print(f"{'model':<22}{'tokens':>8}{'ckpt':>6}{'saved MiB':>11}{'peak growth MiB':>17}{'s/step':>8}")
    for r in rows:
        print(
            f"{r['model']:<22}{r['length']:>8}{'yes' if r['gradient_checkpointing'] else 'no':>6}"
            f"{r['saved_for_backward_mib']:>11.1f}{r['peak_rss_growth_mib']:>17.1f}{r['seconds_per_step']:>8.2f}"
        )
    ratios = []
    for plain, ckpt in zip(rows[::2], rows[1::2], strict=True):
        ratio = {
            "model": plain["model"],
            "length": plain["length"],
            "saved_ratio": ckpt["saved_for_backward_mib"] / plain["saved_for_backward_mib"],
            "peak_growth_ratio": ckpt["peak_rss_growth_mib"] / max(plain["peak_rss_growth_mib"], 1e-9),
            "time_ratio": ckpt["seconds_per_step"] / plain["seconds_per_step"],
        }
        ratios.append(ratio)
        print(
            f"{plain['model']}: checkpointed/plain saved {ratio['saved_ratio']:.3f}, peak growth "
            f"{ratio['peak_growth_ratio']:.3f}, time {ratio['time_ratio']:.2f}"
        )
    from genomefactory.io import atomic_path

    OUT.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "torch": torch.__version__,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "threads": args.threads,
        "date": time.strftime("%Y-%m-%d"),
    }
    with atomic_path(OUT) as tmp:
        Path(tmp).write_text(json.dumps({"meta": meta, "rows": rows, "ratios": ratios}, indent=2) + "\n")
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
