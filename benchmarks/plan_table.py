"""The memory planner on every family's published configs, and its activation check against measured peaks.

For each family and published variant (built on the meta device: nothing downloaded or allocated), bf16 mixed
precision, AdamW, no activation checkpointing: parameters, LoRA-trainable parameters (r=8, the family's default
targets), and the per-GPU GiB of full fine-tuning under ddp (1 GPU), fsdp and deepspeed ZeRO-3 (8 GPUs), and of
QLoRA (NF4, double quant, 1 GPU), at batch 1 and 8, at 1,024 tokens (or the model's maximum when smaller) and at
the model's maximum length. Then, on this CPU, each family's tiny model: the traced activation bytes against the
peak measured by torch.profiler (``genomefactory.plan.measure``), batch 8 x 256 tokens.

Writes ``benchmarks/results/plan_table.md`` and ``plan_table.json``.

    .venv/bin/python benchmarks/plan_table.py [--skip-measure]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from genomefactory.config import validate_dict
from genomefactory.models.registry import all_families, get_family
from genomefactory.plan.config import PlanConfig
from genomefactory.plan.measure import measured_activation_peak
from genomefactory.plan.memory import GIB
from genomefactory.plan.run import plan_model
from genomefactory.plan.trace import meta_model, saved_activation_bytes
from genomefactory.train.config import TrainConfig

OUT = Path(__file__).resolve().parent / "results"
# Caduceus' selective scan runs position by position, so a meta trace costs ~2 ms per token and layer group:
# its 131k variants are traced up to this many tokens (the table says so), everything else at its maximum
TRACE_CAP = {"caduceus": 16_384}
STRATEGIES = [("ddp", 1), ("fsdp", 8), ("deepspeed_zero3", 8), ("qlora", 1)]


def _train(family: str, variant: str) -> TrainConfig:
    return validate_dict(
        TrainConfig,
        {
            "model": {"family": family, "variant": variant, "init": "random"},
            "data": {"path": "unused"},
            "method": {"name": "full"},
            "training": {"precision": "bf16"},
        },
    )


def plan_variant(family: str, variant: str) -> dict[str, Any]:
    fam = get_family(family)
    cfg = fam.published_config(variant)
    longest = min(fam.max_tokens(cfg), TRACE_CAP.get(family, 10**9))
    lengths = sorted({min(1024, longest), longest})
    train = _train(family, variant)
    plan_cfg = validate_dict(
        PlanConfig,
        {
            "train": train.model_dump(),
            "n_gpus": [1, 8],
            "batch_sizes": [1, 8],
            "lengths": lengths,
            "strategies": sorted({s for s, _ in STRATEGIES}),
        },
    )
    start = time.perf_counter()
    plan = plan_model(plan_cfg, train)
    lora = plan.setups["qlora"]
    return {
        "family": family,
        "variant": variant,
        "max_tokens": fam.max_tokens(cfg),
        "traced_up_to": longest,
        "params": plan.setups["full"].params,
        "lora_trainable": lora.trainable,
        "quantized_weights": lora.quantized,
        "rows": plan.rows(),
        "seconds": round(time.perf_counter() - start, 2),
    }


def check_tiny(family: str) -> dict[str, Any]:
    fam = get_family(family)
    cfg = fam.tiny_config()
    length = min(256, fam.max_tokens(cfg) - 2)
    est = saved_activation_bytes(fam, fam.base(meta_model(fam, cfg)), 8, length).total
    peak = measured_activation_peak(fam, cfg, 8, length)
    return {
        "family": family,
        "batch": 8,
        "length": length,
        "traced": est,
        "measured": peak,
        "ratio": est / peak,
    }


def _gib(x: int) -> str:
    return f"{x / GIB:,.1f}"


def markdown(variants: list[dict[str, Any]], checks: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    head = "| family | variant | params | LoRA r=8 | tokens | batch | " + " | ".join(
        f"{s} x{n}" for s, n in STRATEGIES
    )
    lines = [
        "# Memory planner: published configs (per-GPU GiB, bf16 mixed precision, AdamW)",
        "",
        f"Made by `benchmarks/plan_table.py` on {meta['date']} ({meta['machine']}); model on the meta device, "
        "activations traced (see docs/memory_planner.md). Full fine-tuning for ddp/fsdp/ZeRO-3, QLoRA "
        "(NF4 + double quant, LoRA r=8 on the family's default targets) for qlora. Totals = weights + "
        "gradients + optimizer states + activations, without the CUDA context; `xN` = GPUs. "
        "No activation checkpointing (it would cut activations to the block inputs + one block).",
        "",
        head + " |",
        "|" + "---|" * (6 + len(STRATEGIES)),
    ]
    for v in variants:
        rows = {(r["strategy"], r["n_gpus"], r["batch_size"], r["length"]): r for r in v["rows"]}
        for length in sorted({r["length"] for r in v["rows"]}):
            for batch in (1, 8):
                cells = [_gib(rows[(s, n, batch, length)]["total"]) for s, n in STRATEGIES]
                capped = "*" if length < v["max_tokens"] and length == v["traced_up_to"] else ""
                lines.append(
                    f"| {v['family']} | {v['variant']} | {v['params'] / 1e6:,.1f}M | "
                    f"{v['lora_trainable'] / 1e6:,.2f}M | {length:,}{capped} | {batch} | "
                    + " | ".join(cells)
                    + " |"
                )
    lines += [
        "",
        "`*`: traced up to this length only (Caduceus' position-by-position scan makes a 131k-token meta trace "
        "take minutes); the model takes more.",
        "",
        "## Activation estimate vs measured peak (CPU, tiny models, fp32, batch 8)",
        "",
        "Measured: peak of torch.profiler's CPU allocator total during forward + backward minus the total before "
        "it (parameter gradients allocated beforehand). Traced: the planner's estimate on the meta device.",
        "",
        "| family | tokens | traced MiB | measured MiB | traced / measured |",
        "|---|---|---|---|---|",
    ]
    for c in checks:
        lines.append(
            f"| {c['family']} | {c['length']} | {c['traced'] / 2**20:.2f} | {c['measured'] / 2**20:.2f} | "
            f"{c['ratio']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-measure", action="store_true", help="Only the published-config table.")
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    families = [f for f in all_families() if f.name != "hf_auto"]  # hf_auto has no published configs
    variants = []
    for fam in families:
        for variant in fam.variants:
            try:
                fam.published_config(variant)
            except Exception:  # a variant without a bundled config (loaded from its checkpoint only)
                continue
            print(f"planning {fam.name} {variant} ...", flush=True)
            variants.append(plan_variant(fam.name, variant))
    checks = [] if args.skip_measure else [check_tiny(f.name) for f in families]
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "plan_table.json").write_text(
        json.dumps({**meta, "variants": variants, "checks": checks}, indent=1)
    )
    (OUT / "plan_table.md").write_text(markdown(variants, checks, meta))
    print((OUT / "plan_table.md").read_text())


if __name__ == "__main__":
    main()
