"""Evaluating scores on labelled variant sets: AUROC and AUPRC per score output, and the usual plots.

Labels come from a TSV column (``evaluate.label_column``) or a VCF INFO key (``evaluate.label_info``); they must
take exactly two values, ``evaluate.positive_label`` naming the positive class (e.g. pathogenic / causal /
motif-breaking). Only alleles with status ``ok`` and a label enter the evaluation.

Sign convention: each value is turned into an *effect* before ranking, so that a higher effect predicts the
positive class, with the score's orientation (overridable per output with ``evaluate.orientation``):

- ``-`` (masked_marginal, loglik_sum, loglik_mean): effect = -value (ALT less likely than REF = larger effect);
- ``+`` (embedding distances): effect = value;
- ``abs`` (finetuned deltas): effect = |value| (a change of the prediction in either direction).

AUROC = ``sklearn.metrics.roc_auc_score(label == positive, effect)``, AUPRC =
``average_precision_score`` of the same; 0.5 AUROC = no signal, and AUPRC's chance level is the positive fraction.
Plots (matplotlib, imported only when asked): effect distributions by label, one panel per output; ROC curves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..io import atomic_path, atomic_write_json

__all__ = ["EvaluationResult", "effect", "evaluate_rows", "plot_evaluation"]


@dataclass
class EvaluationResult:
    """Per score output: n, n_positive, auroc, auprc, orientation."""

    metrics: dict[str, dict[str, Any]]
    positive_label: str
    files: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"evaluation (positive label {self.positive_label!r}; effect: see orientation):"]
        for name, m in self.metrics.items():
            lines.append(
                f"  {name}: AUROC {m['auroc']:.3f}  AUPRC {m['auprc']:.3f}  (n={m['n']}, positives={m['n_positive']}, "
                f"effect = {m['orientation']}value)"
            )
        return "\n".join(lines)


def effect(values: np.ndarray, orientation: str) -> np.ndarray:
    if orientation == "-":
        return -values
    if orientation == "abs":
        return np.abs(values)
    return values


def _labelled(rows: pd.DataFrame, positive: str) -> pd.DataFrame:
    """The scored, labelled rows with a boolean ``positive`` column; the labels of all rows are checked."""
    given = rows[rows["label"].notna()] if "label" in rows else rows.iloc[:0]
    values = sorted(set(given["label"].astype(str)))
    if len(values) != 2 or positive not in values:
        raise DataError(
            f"evaluation needs labels with exactly two values, one of them evaluate.positive_label "
            f"{positive!r}; the input's label values are {values[:10]} (set evaluate.positive_label, or fix "
            "the labels)"
        )
    lab = given[given["status"].eq("ok")].copy()
    lab["label"] = lab["label"].astype(str)
    lab["positive"] = lab["label"].eq(positive)
    return lab


def evaluate_rows(rows: pd.DataFrame, positive_label: str, orientations: dict[str, str]) -> EvaluationResult:
    """AUROC / AUPRC of every score output in ``rows`` (the ``variants`` output rows)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    lab = _labelled(rows, positive_label)
    metrics: dict[str, dict[str, Any]] = {}
    for name, grp in lab.groupby("score", sort=False):
        y = grp["positive"].to_numpy()
        orient = orientations.get(str(name), "+")
        eff = effect(grp["value"].to_numpy(dtype=np.float64), orient)
        one_class = y.all() or not y.any()
        metrics[str(name)] = {
            "n": len(y),
            "n_positive": int(y.sum()),
            "orientation": orient,
            "auroc": float("nan") if one_class else float(roc_auc_score(y, eff)),
            "auprc": float("nan") if one_class else float(average_precision_score(y, eff)),
        }
    return EvaluationResult(metrics, positive_label)


def plot_evaluation(rows: pd.DataFrame, result: EvaluationResult, prefix: Path) -> dict[str, Path]:
    """``<prefix>.distributions.png`` (effect by label) and ``<prefix>.roc.png``; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    lab = _labelled(rows, result.positive_label)
    names = list(result.metrics)
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False)
    roc_fig, roc_ax = plt.subplots(figsize=(4.5, 4.5))
    for ax, name in zip(axes[0], names, strict=True):
        grp = lab[lab["score"] == name]
        eff = effect(grp["value"].to_numpy(dtype=np.float64), result.metrics[name]["orientation"])
        pos = grp["positive"].to_numpy()
        bins = np.histogram_bin_edges(eff, bins=30)
        ax.hist(eff[~pos], bins=bins, alpha=0.6, label="other")
        ax.hist(eff[pos], bins=bins, alpha=0.6, label=f"label {result.positive_label}")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"effect = {result.metrics[name]['orientation']}value")
        ax.legend(fontsize=7)
        if pos.any() and (~pos).any():
            fpr, tpr, _ = roc_curve(pos, eff)
            roc_ax.plot(fpr, tpr, label=f"{name} ({result.metrics[name]['auroc']:.2f})")
    roc_ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    roc_ax.set_xlabel("false positive rate")
    roc_ax.set_ylabel("true positive rate")
    if roc_ax.get_legend_handles_labels()[0]:
        roc_ax.legend(fontsize=7)
    files = {"distributions": Path(f"{prefix}.distributions.png"), "roc": Path(f"{prefix}.roc.png")}
    for f, key in ((fig, "distributions"), (roc_fig, "roc")):
        f.tight_layout()
        with atomic_path(files[key], suffix=".png") as tmp:
            f.savefig(tmp, format="png", dpi=110)
        plt.close(f)
    return files


def write_evaluation(
    result: EvaluationResult, rows: pd.DataFrame, prefix: Path, plots: bool
) -> EvaluationResult:
    """``<prefix>.evaluation.json`` (+ plots); fills ``result.files``."""
    path = Path(f"{prefix}.evaluation.json")
    atomic_write_json(path, {"positive_label": result.positive_label, "scores": result.metrics})
    result.files["evaluation"] = path
    if plots:
        result.files.update(plot_evaluation(rows, result, prefix))
    return result
