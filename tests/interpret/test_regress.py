"""Regression finds a planted unit–readout link and reports nothing for a shuffled readout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from genomefactory.infer.store import rows_to_table
from genomefactory.interpret.config import ReadoutSpec, SAEConfig, SAERegressionConfig
from genomefactory.interpret.regress import ridge_cv, run_sae_regression, unit_correlations
from genomefactory.interpret.train_sae import train_sae


def _sparse_codes(n: int = 400, units: int = 120, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.exponential(1.0, (n, units)) * (rng.random((n, units)) < 0.1)


def test_unit_correlations_find_planted_unit_and_nothing_when_shuffled() -> None:
    z = _sparse_codes()
    rng = np.random.default_rng(1)
    y = 2.0 * z[:, 17] + rng.normal(0, 0.5, len(z))
    table = unit_correlations(z, y)
    best = table.loc[table["pearson_r"].abs().idxmax()]
    assert int(best["unit"]) == 17 and best["pearson_q"] < 1e-10 and best["spearman_q"] < 1e-3
    sig = (table["pearson_q"] < 0.05) & (table["spearman_q"] < 0.05)
    assert sig.sum() <= 3  # the planted unit (and at most a chance neighbour)
    shuffled = unit_correlations(z, rng.permutation(y))
    assert not ((shuffled["pearson_q"] < 0.05) & (shuffled["spearman_q"] < 0.05)).any()
    fit = ridge_cv(z, np.stack([y, rng.permutation(y)], 1), folds=5, seed=0)
    assert fit["0"]["r2_cv"] > 0.6 and fit["1"]["r2_cv"] < 0.05


def test_constant_unit_is_not_tested() -> None:
    z = _sparse_codes()
    z[:, 3] = 0.0
    table = unit_correlations(z, z[:, 5] + 0.1)
    assert np.isnan(table.loc[3, "pearson_r"]) and table.loc[3, "pearson_q"] == 1.0


def test_pipeline_links_planted_column_and_not_its_shuffle(tmp_path: Path) -> None:
    """Embeddings whose one direction carries `signal`: the SAE + regression must find it; `noise` must not."""
    rng = np.random.default_rng(0)
    n, d = 300, 16
    signal = rng.uniform(0, 3, n)
    atoms = rng.normal(size=(8, d))
    x = (rng.random((n, 8)) < 0.3) * rng.uniform(0.5, 1.5, (n, 8)) @ atoms + signal[:, None] * atoms[0] * 0.0
    direction = rng.normal(size=d)
    x = x + signal[:, None] * direction
    frame = pd.DataFrame(
        {
            "id": [f"s{i}" for i in range(n)],
            "length": rng.integers(100, 200, n),
            "signal": signal,
            "noise": rng.permutation(signal),
        }
    )
    path = tmp_path / "emb.parquet"
    import pyarrow.parquet as pq

    pq.write_table(rows_to_table(frame, list(x.astype(np.float32)), d, False, {}), path)
    sae, _ = train_sae(
        __import__("torch").from_numpy(x.astype(np.float32)), SAEConfig(d_hidden=64, k=4), steps=300, lr=5e-3
    )
    sae.save(tmp_path / "sae")
    cfg = SAERegressionConfig(
        embeddings=str(path),
        sae_checkpoint=str(tmp_path / "sae"),
        figures=True,
        readouts=[ReadoutSpec(kind="column", column="signal"), ReadoutSpec(kind="column", column="noise")],
        output=str(tmp_path / "out"),
    )
    res = run_sae_regression(cfg)
    report = json.loads(res.output.read_text())
    sig, noise = report["readouts"]["signal"], report["readouts"]["noise"]
    assert sig["n_significant"] >= 1 and sig["top_units"][0]["significant"] and sig["ridge"]["r2_cv"] > 0.5
    assert abs(sig["top_units"][0]["pearson_r"]) > 0.5
    assert noise["n_significant"] == 0 and noise["ridge"]["r2_cv"] < 0.1
    top = sig["top_units"][0]
    assert (
        len(top["top_sequences"]) == 5
        and top["top_sequences"][0]["activation"] >= top["top_sequences"][-1]["activation"]
    )
    assert (tmp_path / "out" / "signal_bars.png").stat().st_size > 1000
    assert (tmp_path / "out" / "unit_correlations.csv").is_file()
