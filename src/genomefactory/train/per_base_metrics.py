"""Metrics of per-base tasks (scikit-learn / scipy definitions), over the bases that count only.

A base counts when the model gave it an output (``base_mask == 1``: not padding, not a special token, not cut
off by truncation) and it has a label (a class >= 0, or a finite value). Padding the Trainer adds when it
gathers batches of different widths (-100 in the mask) never counts.

Classification (over all counted bases pooled): accuracy, macro F1 / precision / recall, MCC, per-class AUPRC
(``auprc_<k>``: average precision of class k one-vs-rest on its softmax probability, for each class present)
and their mean ``auprc``. Regression: MSE, MAE, R², Pearson and Spearman over all counted bases pooled
(``pearson``, ``spearman``) and per window (``pearson_window``, ``spearman_window``: the mean over sequences with
at least two counted bases and non-constant prediction and target).

Shapes: ``logits`` (sequences, bases, classes) (classes = 1 for regression), ``labels`` and ``base_mask``
(sequences, bases).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn import metrics as skm

from .metrics import classification_metrics, compute_metrics, regression_metrics, softmax
from .task_types import is_per_base, is_regression

__all__ = ["counted", "eval_metrics", "per_base_classification_metrics", "per_base_regression_metrics"]


def counted(labels: np.ndarray, base_mask: np.ndarray, regression: bool) -> np.ndarray:
    """Boolean (sequences, bases): the bases that enter the metrics."""
    keep = base_mask == 1
    if regression:
        return keep & np.isfinite(labels)  # type: ignore[no-any-return]
    return keep & (labels >= 0)  # type: ignore[no-any-return]


def per_base_classification_metrics(
    logits: np.ndarray, labels: np.ndarray, base_mask: np.ndarray
) -> dict[str, float]:
    keep = counted(labels, base_mask, regression=False)
    if not keep.any():
        return {}
    flat_logits = logits[keep].astype(np.float64)
    flat_labels = labels[keep].astype(np.int64)
    out = classification_metrics(flat_logits, flat_labels)
    probs = softmax(flat_logits)
    auprcs = []
    for k in range(probs.shape[1]):
        positive = flat_labels == k
        if positive.any():
            ap = float(skm.average_precision_score(positive, probs[:, k]))
            out[f"auprc_{k}"] = ap
            auprcs.append(ap)
    out["auprc"] = float(np.mean(auprcs))
    return out


def _window_corr(pred: np.ndarray, target: np.ndarray, keep: np.ndarray) -> tuple[float, float]:
    pearson, spearman = [], []
    for p, t, k in zip(pred, target, keep, strict=True):
        if k.sum() < 2 or np.ptp(p[k]) == 0 or np.ptp(t[k]) == 0:
            continue
        pearson.append(float(stats.pearsonr(p[k], t[k])[0]))
        spearman.append(float(stats.spearmanr(p[k], t[k])[0]))
    if not pearson:
        return 0.0, 0.0
    return float(np.mean(pearson)), float(np.mean(spearman))


def per_base_regression_metrics(
    logits: np.ndarray, labels: np.ndarray, base_mask: np.ndarray
) -> dict[str, float]:
    pred = logits[..., 0].astype(np.float64) if logits.ndim == 3 else logits.astype(np.float64)
    target = labels.astype(np.float64)
    keep = counted(target, base_mask, regression=True)
    if not keep.any():
        return {}
    out = regression_metrics(pred[keep], target[keep])
    out["pearson_window"], out["spearman_window"] = _window_corr(pred, target, keep)
    return out


def eval_metrics(task_type: str, predictions: object, label_ids: object) -> dict[str, float]:
    """Metrics of the Trainer's gathered predictions: logits, or for per-base tasks the tuple (per-base logits,
    base mask) the per-base model returns (``train/per_base.py``)."""
    if is_per_base(task_type):
        assert isinstance(predictions, tuple) and len(predictions) == 2
        logits, mask = (np.asarray(x) for x in predictions)
        fn = per_base_regression_metrics if is_regression(task_type) else per_base_classification_metrics
        return fn(logits, np.asarray(label_ids), mask)
    raw = predictions[0] if isinstance(predictions, tuple) else predictions
    return compute_metrics(task_type, np.asarray(raw), np.asarray(label_ids))
