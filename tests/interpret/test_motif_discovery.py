"""TF-MoDISco wrapper on oracle attributions: the planted motif is found, matched to its JASPAR id and called
discriminative; a distractor planted in every class is found but not called discriminative."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("modiscolite")
pytest.importorskip("memelite")

from genomefactory.config import validate_dict
from genomefactory.errors import DataError, UserError
from genomefactory.interpret.attrib.base import one_hot
from genomefactory.interpret.motifs import MotifDB
from genomefactory.interpret.motifs.config import MotifsConfig
from genomefactory.interpret.motifs.discover import trim
from genomefactory.interpret.motifs.inputs import read_attributions
from genomefactory.interpret.motifs.planted import plant
from genomefactory.interpret.motifs.run import run_motifs


def _oracle(data: object, db: MotifDB, oh: np.ndarray, noise: float = 0.05) -> np.ndarray:
    """What an ideal model's hypothetical contributions look like: each planted site scores every base by its
    motif's centred log-odds (in the site's orientation), elsewhere small noise."""
    rng = np.random.default_rng(1)
    hyp = rng.normal(0, noise, oh.shape).astype(np.float32)
    for n, sites in enumerate(data.sites):  # type: ignore[attr-defined]
        for s in sites:
            w = np.log2(db.by_id[s.motif].ppm + 0.05) + 2.0
            w = w - w.mean(0)
            if s.strand == "-":
                w = w[::-1, ::-1]
            hyp[n, s.start : s.end] += 0.5 * w.T
    return hyp


def test_trim_keeps_the_informative_span() -> None:
    cwm = np.zeros((10, 4))
    cwm[3:6, 0] = [1.0, 0.2, 0.9]
    ppm = np.full((10, 4), 0.25)
    p, c = trim(ppm, cwm)
    assert p.shape == (3, 4) and np.allclose(c[:, 0], [1.0, 0.2, 0.9])


@pytest.mark.slow
def test_motifs_command_recovers_planted_motif_not_distractor(
    lambda_genome: str, jaspar_db: MotifDB, tmp_path: Path
) -> None:
    """The `motifs` command on an attributions .npz (oracle scores): report, JSON, TSV, logos, manifest."""
    planted, distractor = jaspar_db.get("MA0139"), jaspar_db.get("MA0114")  # CTCF in class 1; HNF4A in all
    data = plant(lambda_genome, {0: [], 1: [planted]}, [distractor], n_per_class=120, length=160, seed=3)
    oh = one_hot(data.sequences)
    npz = tmp_path / "attr.npz"
    np.savez(npz, one_hot=oh, hypothetical=_oracle(data, jaspar_db, oh), labels=data.labels)
    cfg = validate_dict(
        MotifsConfig,
        {
            "attributions_file": str(npz),
            "modisco": {"min_metacluster_size": 50, "n_leiden_runs": 4},
            "output": str(tmp_path / "out"),
        },
    )
    res = run_motifs(cfg)
    patterns = res.patterns
    found = {p.matches[0].id.split(".")[0]: p for p in patterns if p.matches}
    assert "MA0139" in found and "MA0114" in found, {k: v.n_seqlets for k, v in found.items()}
    assert found["MA0139"].stats["discriminative"]
    assert found["MA0139"].matches[0].q_value < 0.01
    assert not found["MA0114"].stats["discriminative"]
    assert found["MA0114"].role == "shared"
    # discriminative patterns are exactly those whose best match is the planted motif
    assert {p.matches[0].id.split(".")[0] for p in patterns if p.stats["discriminative"]} == {"MA0139"}
    out = tmp_path / "out"
    saved = json.loads((out / "patterns.json").read_text())
    assert {r["name"] for r in saved["patterns"]} == {p.name for p in patterns}
    assert saved["class_sizes"] == {"0": 120, "1": 120}
    tsv = pd.read_csv(out / "matches.tsv", sep="\t")
    assert (tsv.loc[tsv["role"] == "target", "id"].str.startswith("MA0139")).any()
    md = (out / "report.md").read_text()
    assert "MA0139" in md and "discriminative for the target class" in md
    for r in saved["patterns"]:
        assert (out / r["logos"]["ppm"]).stat().st_size > 1000
    assert (out / "report.html").is_file() and (out / "manifest.json").is_file()
    with pytest.raises(UserError, match=r"not empty|already|holds"):
        run_motifs(cfg)


def test_motifs_inputs_are_checked(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="attributions_file"):
        run_motifs(validate_dict(MotifsConfig, {"output": str(tmp_path / "o")}))
    bad = tmp_path / "bad.npz"
    np.savez(bad, one_hot=np.zeros((2, 5, 4)), hypothetical=np.zeros((2, 6, 4)))
    with pytest.raises(DataError, match=r"must both be \(N, L, 4\)"):
        read_attributions(bad)
    # the names `attribute` writes are read too
    alt = tmp_path / "alt.npz"
    np.savez(alt, onehot=np.zeros((2, 5, 4)), **{"ism.hypothetical": np.ones((2, 5, 4))})
    got = read_attributions(alt)
    assert got.hypothetical.shape == (2, 5, 4) and got.labels is None
