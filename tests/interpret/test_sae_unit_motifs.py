"""sae_regression names SAE units by motif: planted CTCF sites on phage-lambda background, per-token embeddings
that carry a site signal, a trained SAE; the report must name MA0139 both through the JASPAR readout regression
and through the unit -> windows -> TOMTOM reverse link."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyjaspar")
pytest.importorskip("memelite")
pytest.importorskip("logomaker")

import pyarrow.parquet as pq
import torch

from genomefactory.errors import DataError
from genomefactory.infer.store import rows_to_table
from genomefactory.interpret.config import SAEConfig, SAERegressionConfig
from genomefactory.interpret.motifs import MotifDB
from genomefactory.interpret.motifs.planted import PlantedData, plant
from genomefactory.interpret.regress import run_sae_regression
from genomefactory.interpret.train_sae import train_sae


def _token_embeddings(data: PlantedData, seed: int = 0) -> list[np.ndarray]:
    """<cls> + one token per base + <sep>, width 8: base one-hot, noise, and a bump peaking at each site's centre."""
    rng = np.random.default_rng(seed)
    out = []
    for s, sites in zip(data.sequences, data.sites, strict=True):
        x = np.zeros((len(s) + 2, 8), dtype=np.float32)
        x[0, 4], x[-1, 5] = 1.0, 1.0
        x[1 + np.arange(len(s)), ["ACGT".index(c) for c in s]] = 1.0
        x[:, 4:] += rng.normal(0, 0.05, (len(x), 4)).astype(np.float32)
        for site in sites:
            centre = (site.start + site.end) // 2
            pos = np.arange(len(s))
            x[1 + pos, 6] += 3.0 * np.exp(-np.abs(pos - centre) / 1.5)
        out.append(x)
    return out


def _setup(tmp_path: Path, lambda_genome: str, jaspar_db: MotifDB) -> tuple[SAERegressionConfig, str]:
    ctcf = jaspar_db.get("MA0139")
    data = plant(lambda_genome, {0: [], 1: [ctcf]}, [], n_per_class=60, length=80, seed=5)
    vecs = _token_embeddings(data)
    frame = pd.DataFrame(
        {"id": [f"s{i}" for i in range(len(vecs))], "length": 80, "sequence": data.sequences}
    )
    info = {"model": {"family": "synthetic", "init": "planted"}, "layer": -1, "pooling": "token"}
    pq.write_table(rows_to_table(frame, vecs, 8, True, info), tmp_path / "emb.parquet")
    torch.manual_seed(0)
    sae, _ = train_sae(
        torch.from_numpy(np.concatenate(vecs)), SAEConfig(d_hidden=16, k=2, aux_k=8), steps=300, lr=5e-3
    )
    sae.save(tmp_path / "sae")
    cfg = SAERegressionConfig.model_validate(
        {
            "embeddings": str(tmp_path / "emb.parquet"),
            "sae_checkpoint": str(tmp_path / "sae"),
            "readouts": [{"kind": "gc"}, {"kind": "jaspar", "jaspar_id": "MA0139", "statistic": "presence"}],
            "top_units": 3,
            "cv_folds": 3,
            "unit_motifs": {
                "enabled": True,
                "top_units": 3,
                "windows": 40,
                "width": ctcf.width,
                "leading_tokens": 1,
            },
            "output": str(tmp_path / "out"),
        }
    )
    return cfg, ctcf.id


def test_report_names_the_planted_motif_both_ways(
    tmp_path: Path, lambda_genome: str, jaspar_db: MotifDB
) -> None:
    cfg, ctcf_id = _setup(tmp_path, lambda_genome, jaspar_db)
    res = run_sae_regression(cfg)
    report = json.loads(res.output.read_text())
    # forward: the FIMO presence readout's best unit, significant, r well above chance
    (link,) = report["motif_links"]
    assert link["motif"] == f"CTCF ({ctcf_id})" and link["significant"] and link["pearson_r"] > 0.5
    assert link["sentence"] == f"unit {link['unit']} ↔ CTCF ({ctcf_id}), r = {link['pearson_r']:.2f}"
    # reverse: that unit's strongest windows align to CTCF by TOMTOM (significant q), windows centred on sites
    units = {u["unit"]: u for u in report["unit_motifs"]}
    named = [u for u in units.values() if any(m["id"] == ctcf_id for m in u["matches"][:3])]
    assert named, [(u["unit"], u["matches"][:2]) for u in units.values()]
    assert link["unit"] in {u["unit"] for u in named}
    top = units[link["unit"]]
    assert top["matches"][0]["id"] == ctcf_id and top["matches"][0]["q_value"] < 0.05
    assert top["n_windows"] >= 30
    assert top["site_check"]["supported"] and top["site_check"]["in_windows"] > 0.8
    # GC-reading units' flat, GC-rich PPMs also match CTCF by TOMTOM q alone; the site check must refuse them
    gc_units = [u for u in units.values() if u["best_readout"] == "gc" and u.get("site_check")]
    assert gc_units and not any(u["site_check"]["supported"] for u in gc_units)
    # the page a biologist reads: both statements, the logo and the match table
    out = Path(cfg.output)
    md, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert link["sentence"] in md and link["sentence"] in page
    assert f"**unit {link['unit']} reads CTCF ({ctcf_id})**" in md
    assert f"<b>unit {link['unit']} reads CTCF ({ctcf_id})</b>" in page
    assert f"![unit_{link['unit']}](logos/unit_{link['unit']}.png)" in md
    assert f"<img src='logos/unit_{link['unit']}.png'" in page and (out / top["logo"]).stat().st_size > 1000
    assert f"| 1 | {ctcf_id} | CTCF |" in md and "init planted" in md and "120 sequences of 80–80 bases" in md
    windows = pd.read_csv(out / "unit_windows.tsv", sep="\t")
    assert (
        set(windows["unit"]) == set(units)
        and (windows["end"] - windows["start"] == cfg.unit_motifs.width).all()
    )
    assert "↔ CTCF" in res.summary()


def test_unit_motifs_refuses_pooled_embeddings(tmp_path: Path, jaspar_db: MotifDB) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8)).astype(np.float32)
    frame = pd.DataFrame({"id": [f"s{i}" for i in range(40)], "sequence": ["ACGT" * 5] * 40})
    pq.write_table(rows_to_table(frame, list(x), 8, False, {}), tmp_path / "emb.parquet")
    sae, _ = train_sae(torch.from_numpy(x), SAEConfig(d_hidden=16, k=2), steps=5)
    sae.save(tmp_path / "sae")
    cfg = SAERegressionConfig.model_validate(
        {
            "embeddings": str(tmp_path / "emb.parquet"),
            "sae_checkpoint": str(tmp_path / "sae"),
            "unit_motifs": {"enabled": True},
            "output": str(tmp_path / "out"),
        }
    )
    with pytest.raises(DataError, match="per-token embeddings"):
        run_sae_regression(cfg)
    assert not (tmp_path / "out" / "report.md").exists()
