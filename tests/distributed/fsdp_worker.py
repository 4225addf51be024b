"""Run by ``torchrun`` from ``test_fsdp.py``: FSDP training runs, one after another, in the same processes.

Argument: a JSON file ``{"runs": [{"config": train config overrides, "prepare": null | {"copy": dir,
"drop": [names]}}, ...], "out": folder}``. ``prepare.copy`` makes the run's output_dir a copy of an earlier run's
(rank 0, then a barrier) without the entries in ``drop`` (an interrupted run to resume). Every rank writes
``<out>/rank<r>.json`` with, per run, the metrics, the parameters it held and the dtypes Evo's modal filters
and MLPs saw in their forward passes.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from genomefactory.config import load_config
from genomefactory.models.layers import striped_hyena
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train

SEEN: dict[str, set[str]] = {"poles": set(), "mlp": set()}


def _record_dtypes() -> None:
    """What dtype the parameters have inside the forward: under FSDP2 that is the gathered (policy) dtype."""
    kernel, mlp = striped_hyena.ModalFilter.kernel, striped_hyena.GatedMLP.forward

    def spy_kernel(self: Any, length: int) -> Any:
        SEEN["poles"].add(str(self.poles.dtype))
        return kernel(self, length)

    def spy_mlp(self: Any, x: Any) -> Any:
        SEEN["mlp"].add(str(self.l1.weight.dtype))
        return mlp(self, x)

    striped_hyena.ModalFilter.kernel = spy_kernel  # type: ignore[method-assign]
    striped_hyena.GatedMLP.forward = spy_mlp  # type: ignore[method-assign]


def _prepare(step: dict[str, Any] | None, out: str, rank: int) -> None:
    if step is None:
        return
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    if rank == 0:
        shutil.copytree(step["copy"], out)
        for name in step["drop"]:
            path = Path(out) / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    dist.barrier()


def main(spec_path: str) -> None:
    torch.set_num_threads(1)
    _record_dtypes()
    spec = json.loads(Path(spec_path).read_text())
    rank = int(os.environ["RANK"])
    report: list[dict[str, Any]] = []
    for run in spec["runs"]:
        _prepare(run.get("prepare"), run["config"]["output_dir"], rank)
        SEEN["poles"].clear()
        SEEN["mlp"].clear()
        res = run_train(load_config(TrainConfig, None, run["config"]))
        report.append(
            {
                "dev": res.dev_metrics,
                "test": res.test_metrics,
                "held": res.local_parameters,
                "total": res.total_params,
                "files": sorted(res.files),
                "dtypes": {k: sorted(v) for k, v in SEEN.items()},
            }
        )
    (Path(spec["out"]) / f"rank{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
