"""The one writer of prediction tables, shared by training (``predictions_test.csv``) and ``inference``
``mode: predict``.

Columns: the caller's base table as given (training: ``row,label``; predict: the input's ``id``, ``sequence`` and
other columns), then ``prediction`` and, for classification, ``prob_0 .. prob_{k-1}`` (softmax of the logits,
computed in float64); for regression ``prediction`` is the single output. ``logits`` has shape (rows,
num_labels), num_labels = 1 for regression; row i of the table is row i of ``logits``. Written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_path
from .metrics import softmax

__all__ = ["prediction_table", "write_predictions"]


def prediction_table(base: pd.DataFrame, logits: np.ndarray, task_type: str) -> pd.DataFrame:
    """``base`` with the prediction columns added (a copy; ``base`` is not changed)."""
    values = np.asarray(logits, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.shape[0] != len(base):
        raise ValueError(f"{values.shape[0]} rows of logits for a table of {len(base)} rows")
    table = base.copy()
    if task_type == "regression":
        table["prediction"] = values.reshape(-1)
        return table
    probs = softmax(values)
    table["prediction"] = probs.argmax(-1)
    for k in range(probs.shape[1]):
        table[f"prob_{k}"] = probs[:, k]
    return table


def write_predictions(path: Path, base: pd.DataFrame, logits: np.ndarray, task_type: str) -> pd.DataFrame:
    """Write ``prediction_table(base, logits, task_type)`` to the CSV ``path`` atomically; returns the table."""
    table = prediction_table(base, logits, task_type)
    with atomic_path(Path(path)) as tmp:
        table.to_csv(tmp, index=False)
    return table
