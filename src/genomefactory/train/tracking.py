"""Experiment tracking through the ``Trainer``'s own integrations (``training.report_to``).

``report_to`` lists ``tensorboard``, ``mlflow`` and/or ``wandb``; empty (the default) reports nowhere. The
defaults are offline-safe and keep everything inside the run directory:

- TensorBoard: event files under ``<output_dir>/tensorboard`` (``TENSORBOARD_LOGGING_DIR``);
- MLflow: a file store ``<output_dir>/mlruns`` (``MLFLOW_TRACKING_URI``), experiment ``genomefactory``;
- Weights & Biases: ``WANDB_MODE=offline``, files under ``<output_dir>/wandb`` (``WANDB_DIR``).

An environment variable the user set wins over these defaults. ``training.run_name`` names the run in every
integration and ``training.run_tags`` tags it (MLflow tags, W&B tags; TensorBoard records both in the run's
``args`` text). The benchmark sweep sets both for each cell (model, method, task, seed). The variables are set
only while the run trains and restored afterwards, so one cell's folder never leaks into the next.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import missing_extra

__all__ = ["TRACKERS", "check_trackers", "tracking_env"]

# integration -> (importable package, pip extra of this project)
TRACKERS: dict[str, tuple[str, str]] = {
    "tensorboard": ("tensorboard", "tensorboard"),
    "mlflow": ("mlflow", "mlflow"),
    "wandb": ("wandb", "wandb"),
}


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def check_trackers(report_to: Sequence[str]) -> None:
    """Raise the one-line missing-extra error for the first integration whose package is not installed."""
    for name in report_to:
        package, extra = TRACKERS[name]
        if not _installed(package):
            raise missing_extra(f"training.report_to: {name}", package, extra)


def tracking_defaults(
    report_to: Sequence[str], output_dir: Path, run_name: str | None, tags: dict[str, str]
) -> dict[str, str]:
    """The environment variables each listed integration reads, with this project's offline-safe values."""
    env: dict[str, str] = {}
    out = Path(output_dir).resolve()
    if "tensorboard" in report_to:
        env["TENSORBOARD_LOGGING_DIR"] = str(out / "tensorboard")
    if "mlflow" in report_to:
        env["MLFLOW_TRACKING_URI"] = (out / "mlruns").as_uri()
        env["MLFLOW_EXPERIMENT_NAME"] = "genomefactory"
        if tags:
            env["MLFLOW_TAGS"] = json.dumps(tags, sort_keys=True)
        if run_name:
            env["MLFLOW_RUN_NAME"] = run_name
    if "wandb" in report_to:
        env["WANDB_MODE"] = "offline"
        env["WANDB_DIR"] = str(out)
        env["WANDB_PROJECT"] = "genomefactory"
        if tags:
            env["WANDB_TAGS"] = ",".join(f"{k}={v}" for k, v in sorted(tags.items()))
        if run_name:
            env["WANDB_NAME"] = run_name
    return env


@contextmanager
def tracking_env(
    report_to: Sequence[str],
    output_dir: Path,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
) -> Iterator[dict[str, str]]:
    """Set the integrations' variables the user did not set, for the duration of the block; yields those set."""
    wanted = tracking_defaults(report_to, output_dir, run_name, dict(tags or {}))
    added = {k: v for k, v in wanted.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield added
    finally:
        for key in added:
            os.environ.pop(key, None)


def trainer_report_to(report_to: Sequence[str]) -> Any:
    """The ``TrainingArguments.report_to`` value: the list, or ``"none"`` when empty."""
    return list(report_to) if report_to else "none"
