"""HyenaDNA and Evo (StripedHyena) on CPU: forward+backward throughput and peak memory at 1k tokens.

Usage: ``python benchmarks/long_conv_speed.py [--threads 1] [--repeats 3] [--length 1024] [--batch 2]``.
Prints a table and writes ``benchmarks/results/long_conv_speed.json``.

1. Models: one training step (next-token loss, forward + backward) of random-weight models at tiny-to-small sizes:
   HyenaDNA tiny-1k and small-32k shapes (published widths/depths; positional table cut to the input length),
   Evo tiny (the registry's tiny config) and an Evo "small" (hidden 256, 8 layers, attention at 3 and 6).
   Tokens/s counts batch × length tokens per step. Peak memory is the growth of the process's peak resident set
   during the steps, measured in a fresh child process per model (CPU has no ``max_memory_allocated``).
2. Long convolution alone: ``fft_causal_conv`` (2L FFT) against the direct O(L²) causal convolution, 256 channels.
Times are medians of ``--repeats`` runs after one warm-up; other load on the machine shows up as noise.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

OUT = Path(__file__).resolve().parent / "results" / "long_conv_speed.json"


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _configs(length: int) -> dict[str, tuple[str, dict[str, Any]]]:
    from genomefactory.models.registry import get_family

    hy, evo = get_family("hyenadna"), get_family("evo")
    small_evo = {
        **evo.tiny_config(),
        "hidden_size": 256,
        "num_filters": 256,
        "num_layers": 8,
        "attn_layer_idxs": [3, 6],
        "hyena_layer_idxs": [0, 1, 2, 4, 5, 7],
        "num_attention_heads": 8,
        "state_size": 8,
    }
    return {
        "HyenaDNA tiny-1k": ("hyenadna", {**hy.published_config("tiny-1k"), "max_seq_len": length}),
        "HyenaDNA small-32k": ("hyenadna", {**hy.published_config("small-32k"), "max_seq_len": length}),
        "Evo tiny": ("evo", evo.tiny_config()),
        "Evo small": ("evo", small_evo),
    }


def _model_child(
    family: str, config: dict[str, Any], length: int, batch: int, repeats: int, threads: int, queue: Any
) -> None:
    torch.set_num_threads(threads)
    from genomefactory.models.registry import get_family

    torch.manual_seed(0)
    model = get_family(family).build(config).train()
    ids = (
        torch.randint(7, 11, (batch, length))
        if family == "hyenadna"
        else torch.randint(65, 85, (batch, length))
    )
    params = sum(p.numel() for p in model.parameters())

    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(ids, labels=ids).loss.backward()

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds = _median_time(step, repeats)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    queue.put(
        {
            "params": params,
            "seconds_per_step": seconds,
            "tokens_per_s": batch * length / seconds,
            "peak_rss_growth_mib": peak_kib / 1024,
        }
    )


def bench_models(length: int, batch: int, repeats: int, threads: int) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    rows = []
    for name, (family, config) in _configs(length).items():
        queue = ctx.Queue()
        proc = ctx.Process(target=_model_child, args=(family, config, length, batch, repeats, threads, queue))
        proc.start()
        result = queue.get()
        proc.join()
        rows.append({"model": name, "family": family, "length": length, "batch": batch, **result})
    return rows


def bench_conv(lengths: list[int], repeats: int, channels: int = 256) -> list[dict[str, Any]]:
    from genomefactory.models.layers.fftconv import direct_causal_conv, fft_causal_conv

    rows = []
    for length in lengths:
        u, k = torch.randn(1, channels, length), torch.randn(channels, length)
        fft_s = _median_time(lambda: fft_causal_conv(u, k), repeats)  # noqa: B023
        direct_s = _median_time(lambda: direct_causal_conv(u, k), repeats)  # noqa: B023
        rows.append(
            {
                "length": length,
                "channels": channels,
                "fft_ms": fft_s * 1e3,
                "direct_ms": direct_s * 1e3,
                "speedup": direct_s / fft_s,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    models = bench_models(args.length, args.batch, args.repeats, args.threads)
    conv = bench_conv([1024, 4096], args.repeats)
    print(f"forward+backward, {args.batch} x {args.length} tokens, {args.threads} thread(s), CPU")
    print(f"{'model':<20}{'params':>12}{'s/step':>10}{'tokens/s':>12}{'peak MiB':>10}")
    for r in models:
        print(
            f"{r['model']:<20}{r['params']:>12,}{r['seconds_per_step']:>10.3f}{r['tokens_per_s']:>12,.0f}"
            f"{r['peak_rss_growth_mib']:>10.1f}"
        )
    print(f"\n{'causal conv L':<14}{'FFT ms':>10}{'direct ms':>12}{'speedup':>10}   (256 channels)")
    for r in conv:
        print(f"{r['length']:<14}{r['fft_ms']:>10.2f}{r['direct_ms']:>12.2f}{r['speedup']:>10.1f}")
    from genomefactory.io import atomic_path

    OUT.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "torch": torch.__version__,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "threads": args.threads,
        "repeats": args.repeats,
    }
    with atomic_path(OUT) as tmp:
        Path(tmp).write_text(json.dumps({"meta": meta, "models": models, "long_conv": conv}, indent=2) + "\n")
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
