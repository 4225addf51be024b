"""Evaluation metrics (scikit-learn / scipy definitions).

Classification: accuracy, macro F1, macro precision, macro recall, Matthews correlation (MCC).
Regression: MSE, MAE, Pearson r, Spearman rho, R².
Per-base tasks: the same over the counted bases, plus per-class AUPRC and per-window correlations
(``train/per_base_metrics.py``).
"""

from __future__ import annotations

import difflib

import numpy as np
from scipy import stats
from sklearn import metrics as skm

from ..config import ConfigError
from .task_types import is_regression

LOWER_IS_BETTER = {"mse", "mae", "loss", "rmse"}
# what compute_metrics returns, plus the loss the Trainer adds: the names training.metric_for_best may take
METRIC_NAMES = {
    "classification": ("accuracy", "f1", "precision", "recall", "mcc", "loss"),
    "regression": ("mse", "mae", "pearson", "spearman", "r2", "loss"),
    "per_base_classification": ("accuracy", "f1", "precision", "recall", "mcc", "auprc", "loss"),
    "per_base_regression": (
        "mse",
        "mae",
        "pearson",
        "spearman",
        "pearson_window",
        "spearman_window",
        "r2",
        "loss",
    ),
}


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)  # type: ignore[no-any-return]


def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    pred = logits.argmax(axis=-1)
    return {
        "accuracy": float(skm.accuracy_score(labels, pred)),
        "f1": float(skm.f1_score(labels, pred, average="macro", zero_division=0)),
        "precision": float(skm.precision_score(labels, pred, average="macro", zero_division=0)),
        "recall": float(skm.recall_score(labels, pred, average="macro", zero_division=0)),
        "mcc": float(skm.matthews_corrcoef(labels, pred)),
    }


def regression_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    pred = pred.reshape(-1).astype(np.float64)
    target = target.reshape(-1).astype(np.float64)
    const = np.ptp(pred) == 0 or np.ptp(target) == 0
    return {
        "mse": float(skm.mean_squared_error(target, pred)),
        "mae": float(skm.mean_absolute_error(target, pred)),
        "pearson": 0.0 if const else float(stats.pearsonr(pred, target)[0]),
        "spearman": 0.0 if const else float(stats.spearmanr(pred, target)[0]),
        "r2": float(skm.r2_score(target, pred)),
    }


def compute_metrics(task_type: str, logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    if is_regression(task_type):
        return regression_metrics(logits, labels)
    return classification_metrics(logits, labels)


def default_best_metric(task_type: str) -> str:
    return "mse" if is_regression(task_type) else "mcc"


def resolve_best_metric(task_type: str, name: str | None) -> str:
    """The dev metric that picks the best checkpoint, checked before training (an unknown name would otherwise
    stop the run at its first evaluation). An ``eval_`` prefix is accepted and dropped, so the lower-is-better
    rule sees the bare name."""
    if name is None:
        return default_best_metric(task_type)
    bare = name.removeprefix("eval_")
    valid = METRIC_NAMES[task_type]
    if bare not in valid:
        close = difflib.get_close_matches(bare, valid, n=1, cutoff=0.4)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(
            f"training.metric_for_best: {name!r} is not a {task_type} metric; choose one of "
            f"{', '.join(valid)}.{hint}"
        )
    return bare
