"""Task types of the ``train`` command, and what each means for labels, losses and metrics (torch-free).

- ``classification`` / ``regression``: one label per sequence (an integer class / a real value).
- ``per_base_classification`` / ``per_base_regression``: one label per base of the sequence (a class / a value
  for every nucleotide), read from the label column as a comma-separated list (see ``train/data.py``); the model
  gives one output per base (``train/per_base.py``).
"""

from __future__ import annotations

__all__ = ["IGNORE_CLASS", "PER_BASE_TASKS", "TASK_TYPES", "is_per_base", "is_regression"]

TASK_TYPES = ("classification", "regression", "per_base_classification", "per_base_regression")
PER_BASE_TASKS = ("per_base_classification", "per_base_regression")
# label of a base without a class (a '.' in the data, padding): never in the loss or the metrics. Regression
# uses NaN for the same purpose. -100 is also what the Trainer pads gathered label tensors with.
IGNORE_CLASS = -100


def is_per_base(task_type: str) -> bool:
    """A label per base rather than per sequence."""
    return task_type in PER_BASE_TASKS


def is_regression(task_type: str) -> bool:
    """Real-valued labels (MSE loss), per sequence or per base."""
    return task_type in ("regression", "per_base_regression")
