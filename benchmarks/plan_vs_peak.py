"""The planner's single-GPU estimate against the peak measured on a CUDA GPU (one training step, AdamW).

For each case (a published config, random init, full or LoRA, bf16 autocast like the Trainer): the planner's ddp
x1 total (weights + gradients + optimizer states + activations), then the real model on the GPU: one forward +
backward + AdamW step under autocast after a warm-up step (so optimizer states exist), measured with
``torch.cuda.max_memory_allocated()``. Writes ``benchmarks/results/plan_vs_peak.json`` with the GPU name and
date. Without CUDA it says so and exits 0 (the CPU check of the activation estimate is ``tests/plan``).

    .venv/bin/python benchmarks/plan_vs_peak.py [--cases genomeocean:100M:full:8:1024 ...]
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from genomefactory.config import validate_dict
from genomefactory.models import load_backbone
from genomefactory.plan.config import PlanConfig
from genomefactory.plan.run import plan_model
from genomefactory.train.config import TrainConfig
from genomefactory.train.methods import build_task_model

OUT = Path(__file__).resolve().parent / "results" / "plan_vs_peak.json"
CASES = [
    "genomeocean:100M:full:8:1024",
    "genomeocean:500M:lora:8:1024",
    "nucleotide_transformer_v2:500m:full:8:1000",
    "dnabert2:117M:full:16:512",
    "hyenadna:medium-160k:full:1:32768",
]


def _train(family: str, variant: str, method: str, batch: int) -> TrainConfig:
    return validate_dict(
        TrainConfig,
        {
            "model": {"family": family, "variant": variant, "init": "random"},
            "data": {"path": "unused"},
            "method": {"name": method},
            "training": {"precision": "bf16", "batch_size": batch},
        },
    )


def measure(train: TrainConfig, batch: int, length: int) -> int:
    backbone = load_backbone(train.model)
    model = build_task_model(backbone, train.method, "classification", 2).cuda().train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)
    ids = torch.randint(4, 8, (batch, length), device="cuda")
    labels = torch.zeros(batch, dtype=torch.long, device="cuda")

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=False)

    step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    return int(torch.cuda.max_memory_allocated())  # model and optimizer are freed on return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", nargs="*", default=CASES, help="family:variant:method:batch:length")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing measured (the CPU check of the activation estimate is tests/plan)")
        return
    rows: list[dict[str, Any]] = []
    for case in args.cases:
        family, variant, method, batch_s, length_s = case.split(":")
        batch, length = int(batch_s), int(length_s)
        train = _train(family, variant, method, batch)
        plan_cfg = validate_dict(
            PlanConfig,
            {"train": train.model_dump(), "n_gpus": [1], "lengths": [length], "strategies": ["ddp"]},
        )
        est = plan_model(plan_cfg, train).estimates[0]
        try:
            peak = measure(train, batch, length)
        except torch.cuda.OutOfMemoryError:
            peak = -1
        torch.cuda.empty_cache()
        row = {
            "case": case,
            "estimate": est.total,
            "activations": est.activations,
            "measured_peak": peak,
            "ratio": est.total / peak if peak > 0 else None,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    OUT.parent.mkdir(exist_ok=True)
    meta = {
        "gpu": torch.cuda.get_device_name(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
    }
    OUT.write_text(json.dumps({**meta, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
