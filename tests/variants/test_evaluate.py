"""Evaluation of labelled variants (AUROC/AUPRC with the stated orientation, plots) and the fine-tuned score's
function: SNVs that break a planted motif rank above neutral SNVs (a small version of
``benchmarks/variant_function.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from genomefactory.errors import DataError
from genomefactory.records import read_fasta
from genomefactory.variants.demo import plant_genome, plant_variants, write_tsv, write_vcf
from genomefactory.variants.evaluate import evaluate_rows, plot_evaluation
from genomefactory.variants.run import run_variants

from .helpers import config


def _rows(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    frames = []
    for score, shift in (("masked_marginal", -1.0), ("embedding_l2", 1.0), ("finetuned_delta_p1", -1.0)):
        values = rng.normal(size=n) + shift * labels
        frames.append(
            pd.DataFrame(
                {
                    "record": range(n),
                    "allele": 1,
                    "score": score,
                    "value": values,
                    "label": labels.astype(str),
                    "status": "ok",
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out.loc[out.index[:5], "status"] = "ref_mismatch"  # not scored: left out
    return out


def test_auroc_auprc_follow_the_orientation() -> None:
    rows = _rows()
    orient = {"masked_marginal": "-", "embedding_l2": "+", "finetuned_delta_p1": "abs"}
    res = evaluate_rows(rows, "1", orient)
    for name, how in orient.items():
        grp = rows[(rows.score == name) & (rows.status == "ok")]
        y, v = grp["label"].eq("1").to_numpy(), grp["value"].to_numpy()
        eff = {"-": -v, "+": v, "abs": np.abs(v)}[how]
        assert res.metrics[name]["auroc"] == pytest.approx(roc_auc_score(y, eff))
        assert res.metrics[name]["auprc"] == pytest.approx(average_precision_score(y, eff))
        assert res.metrics[name]["n"] == len(grp) and res.metrics[name]["orientation"] == how
    assert res.metrics["masked_marginal"]["auroc"] > 0.7 and res.metrics["embedding_l2"]["auroc"] > 0.7
    with pytest.raises(DataError, match="exactly two values"):
        evaluate_rows(rows.assign(label="benign"), "1", orient)
    with pytest.raises(DataError, match="positive_label 'pathogenic'"):
        evaluate_rows(rows, "pathogenic", orient)


def test_plots_are_written(tmp_path: Path) -> None:
    rows = _rows(60)
    res = evaluate_rows(rows, "1", {"masked_marginal": "-"})
    files = plot_evaluation(rows, res, tmp_path / "x")
    for p in files.values():
        assert p.is_file() and p.read_bytes()[:4] == b"\x89PNG"


def test_motif_breaking_snvs_rank_first(motif_run: Path, tmp_path: Path) -> None:
    """Fine-tuned score on a planted genome (contig names of any form, sites on both strands and at contig ends)."""
    contigs = {"chr7": 2600, "scaffold_12.1": 2200, "Contig-x": 1800}
    sites = plant_genome(tmp_path / "g.fa", contigs, sites_per_contig=6, seed=11)
    genome = dict(read_fasta(tmp_path / "g.fa"))
    variants = plant_variants(genome, sites, n_neutral=40, seed=11)
    assert {s.strand for s in sites} == {"+", "-"} and any(s.start == 0 for s in sites)
    for fmt, path in (
        ("tsv", write_tsv(variants, tmp_path / "v.tsv")),
        ("vcf", write_vcf(variants, tmp_path / "v.vcf", contigs)),
    ):
        ev = {"label_column": "label"} if fmt == "tsv" else {"label_info": "LABEL"}
        out = tmp_path / f"{fmt}.scores.tsv"
        cfg = config(
            None,
            model={"path": str(motif_run)},
            input=str(path),
            genome=str(tmp_path / "g.fa"),
            output=str(out),
            window={"size": 80},
            rc_average=True,
            evaluate={**ev, "plots": False},
        )
        res = run_variants(cfg)
        assert res.statuses == {"ok": len(variants)}
        assert res.evaluation is not None
        assert res.evaluation.metrics["finetuned_delta_p1"]["auroc"] >= 0.9
        assert res.evaluation.files["evaluation"].is_file()
