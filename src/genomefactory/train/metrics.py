"""Evaluation metrics (scikit-learn / scipy definitions).

Classification: accuracy, macro F1, macro precision, macro recall, Matthews correlation (MCC).
Regression: MSE, MAE, Pearson r, Spearman rho, R².
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn import metrics as skm

LOWER_IS_BETTER = {"mse", "mae", "loss", "rmse"}


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
    if task_type == "regression":
        return regression_metrics(logits, labels)
    return classification_metrics(logits, labels)


def default_best_metric(task_type: str) -> str:
    return "mse" if task_type == "regression" else "mcc"
