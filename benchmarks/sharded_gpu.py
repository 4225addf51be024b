"""Sharded / quantised training on a GPU, measured: FSDP for one large config, QLoRA for GenomeOcean, and the
memory planner's estimate next to each measured peak. Writes one JSON (GPU name, date, versions, each part).

    python benchmarks/sharded_gpu.py --output $OUT/sharded_gpu.json            # on the GPU (gpu_session.sh)
    python benchmarks/sharded_gpu.py --dry-run --output /tmp/sharded_cpu.json  # the same steps, tiny, on CPU

Parts (each guarded, each with its own timeout; a missing piece is recorded as ``absent`` with the reason):
- ``fsdp``: ``torchrun --nproc_per_node 1`` + ``training.distributed: fsdp`` (bf16 mixed precision) full
  fine-tuning of a randomly initialised published-size model (default NT-v2 500M, ``--fsdp-model``).
- ``qlora``: method ``qlora`` (4-bit NF4 backbone, LoRA + head fp32) on GenomeOcean (``--qlora-variant``, 4B);
  absent when the method is not registered or bitsandbytes is missing.
- ``plan``: ``genomefactory-cli plan`` for the same configs (absent when the command is not there); the JSON
  holds estimate / measured peak (``torch.cuda.max_memory_allocated``) per part.

Data: a synthetic two-class task (seeded random ACGT, 768 bp, 64/16/16 rows) written next to the output: the
measurement is of memory and speed, not accuracy. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _task(folder: Path) -> Path:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", 64), ("dev", 16), ("test", 16)):
        seqs = ["".join(rng.choice(list("ACGT"), 768)) for _ in range(n)]
        pd.DataFrame({"sequence": seqs, "label": [i % 2 for i in range(n)]}).to_csv(folder / f"{split}.csv")
    return folder


def _train_config(
    task: Path, out: Path, model: dict[str, Any], method: dict[str, Any], **training: Any
) -> dict:
    return {
        "data": {"path": str(task), "max_length": 128},
        "output_dir": str(out),
        "overwrite": True,
        "model": model,
        "method": method,
        "training": {
            "max_steps": 6,
            "batch_size": 8,
            "eval_batch_size": 16,
            "logging_steps": 1,
            "group_by_length": False,
            "save_total_limit": 1,
            **training,
        },
    }


def _worker(config_path: str, result_path: str) -> None:
    """Inside the launched process: train, then report peak memory and speed."""
    import torch

    from genomefactory.config import load_config
    from genomefactory.train.config import TrainConfig
    from genomefactory.train.finetune import run_train

    cfg = load_config(TrainConfig, None, json.loads(Path(config_path).read_text()))
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    res = run_train(cfg)
    report = {
        "seconds": time.perf_counter() - start,
        "train_seconds": res.train_seconds,
        "samples_per_s": res.train_samples_per_s,
        "tokens_per_s": res.train_tokens_per_s,
        "trainable_params": res.trainable_params,
        "total_params": res.total_params,
        "local_params": res.local_parameters,
        "test_loss": res.test_metrics.get("loss"),
        "peak_allocated_bytes": torch.cuda.max_memory_allocated() if cuda else None,
        "peak_reserved_bytes": torch.cuda.max_memory_reserved() if cuda else None,
    }
    if int(os.environ.get("RANK", "0")) == 0:
        Path(result_path).write_text(json.dumps(report, indent=2))


def _run(cmd: list[str], timeout: float, log: Path) -> tuple[int | str, str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{os.environ.get('PYTHONPATH', '')}".rstrip(":")}
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired as exc:
        log.write_text(str(exc.stdout or "") + str(exc.stderr or ""))
        return "timeout", f"timed out after {timeout:.0f} s"
    log.write_text(proc.stdout + proc.stderr)
    return proc.returncode, proc.stderr[-1500:]


def _part(name: str, cfg: dict, work: Path, launcher: list[str], timeout: float) -> dict[str, Any]:
    cfg_path, res_path = work / f"{name}_config.json", work / f"{name}_result.json"
    cfg_path.write_text(json.dumps(cfg, indent=2))
    rc, tail = _run(
        [*launcher, str(Path(__file__)), "--worker", str(cfg_path), str(res_path)],
        timeout,
        work / f"{name}.log",
    )
    out: dict[str, Any] = {"status": "ok" if rc == 0 and res_path.is_file() else "failed", "config": cfg}
    if out["status"] == "ok":
        out.update(json.loads(res_path.read_text()))
    else:
        out["error"] = tail
    return out


def _plan(name: str, cfg: dict, strategy: str, work: Path, timeout: float) -> dict[str, Any]:
    """The planner's per-GPU estimate for ``cfg`` (absent when the command is not there)."""
    from genomefactory.commands import COMMANDS

    if "plan" not in COMMANDS:
        return {"status": "absent", "reason": "no 'plan' command in this checkout"}
    import yaml

    train_file, out = work / f"{name}_train.yaml", work / f"{name}_plan.json"
    train_file.write_text(yaml.safe_dump(cfg))
    spec = {
        "train_file": str(train_file),
        "n_gpus": [1],
        "batch_sizes": [cfg["training"]["batch_size"]],
        "lengths": [cfg["data"]["max_length"]],
        "strategies": [strategy],
        "output": str(out),
    }
    plan_yaml = work / f"{name}_plan.yaml"
    plan_yaml.write_text(yaml.safe_dump(spec))
    rc, tail = _run(
        [sys.executable, "-m", "genomefactory.cli", "plan", str(plan_yaml)],
        timeout,
        work / f"{name}_plan.log",
    )
    if rc != 0 or not out.is_file():
        return {"status": "failed", "error": tail}
    rows = [r for r in json.loads(out.read_text()).get("rows", []) if r.get("strategy") == strategy]
    return {"status": "ok", "rows": rows}


def _qlora_absent() -> str | None:
    import importlib.util

    from genomefactory.train.methods.registry import METHODS

    if "qlora" not in METHODS:
        return "no 'qlora' tuning method registered in this checkout"
    if importlib.util.find_spec("bitsandbytes") is None:
        return "bitsandbytes is not installed (pip install 'genomefactory[qlora]')"
    import torch

    if not torch.cuda.is_available():
        return "no CUDA GPU (bitsandbytes' 4-bit training kernels need one)"
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--output", help="JSON file to write (required)")
    ap.add_argument(
        "--dry-run", action="store_true", help="tiny models, CPU (checks the steps, not the sizes)"
    )
    ap.add_argument(
        "--fsdp-model", default="nucleotide_transformer:2.5b-multi-species", help="family:variant"
    )
    ap.add_argument("--qlora-variant", default="4B", help="GenomeOcean variant for QLoRA")
    ap.add_argument("--part-timeout", type=float, default=110, help="seconds per training part")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker(*args.worker)
        return
    if not args.output:
        ap.error("--output is required")
    import torch

    output = Path(args.output)
    work = output.parent / (output.stem + "_work")
    shutil.rmtree(work, ignore_errors=True)
    task = _task(work / "task")
    cuda = torch.cuda.is_available()
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "gpu_memory_bytes": torch.cuda.get_device_properties(0).total_memory if cuda else None,
        "torch": torch.__version__,
        "dry_run": args.dry_run,
        "parts": {},
    }
    precision = "bf16" if (cuda or args.dry_run) else "fp32"
    family, variant = args.fsdp_model.split(":")
    big = (
        {"family": family, "init": "tiny"}
        if args.dry_run
        else {"family": family, "variant": variant, "init": "random"}
    )
    fsdp_cfg = _train_config(
        task, work / "fsdp_run", big, {"name": "full"}, precision=precision, distributed="fsdp"
    )
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    fsdp = _part(
        "fsdp", fsdp_cfg, work, [torchrun, "--standalone", "--nproc_per_node", "1"], args.part_timeout
    )
    fsdp["plan"] = _plan("fsdp", fsdp_cfg, "fsdp", work, 60)
    report["parts"]["fsdp"] = fsdp

    absent = _qlora_absent()
    if absent is not None:
        report["parts"]["qlora"] = {"status": "absent", "reason": absent}
    else:
        go = (
            {"family": "genomeocean", "init": "tiny"}
            if args.dry_run
            else {"family": "genomeocean", "variant": args.qlora_variant, "init": "random"}
        )
        q_cfg = _train_config(task, work / "qlora_run", go, {"name": "qlora"}, precision=precision)
        qlora = _part("qlora", q_cfg, work, [sys.executable], args.part_timeout)
        qlora["plan"] = _plan("qlora", q_cfg, "qlora", work, 60)
        report["parts"]["qlora"] = qlora
    for part in report["parts"].values():
        rows, peak = part.get("plan", {}).get("rows"), part.get("peak_allocated_bytes")
        if rows and peak:
            part["estimate_over_measured"] = rows[0]["total"] / peak
    output.write_text(json.dumps(report, indent=2, default=str))
    for name, part in report["parts"].items():
        peak = part.get("peak_allocated_bytes")
        print(
            f"{name}: {part['status']}"
            + (f", peak {peak / 2**30:.2f} GiB" if peak else "")
            + (
                f", estimate/measured {part['estimate_over_measured']:.2f}"
                if "estimate_over_measured" in part
                else ""
            )
            + (f" ({part.get('reason') or part.get('error', '')[-300:]})" if part["status"] != "ok" else "")
        )


if __name__ == "__main__":
    main()
