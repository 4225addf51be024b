"""TF-MoDISco wrapper on oracle attributions: the planted motif is found, matched to its JASPAR id and called
discriminative; a distractor planted in every class is found but not called discriminative."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("modiscolite")
pytest.importorskip("memelite")

from genomefactory.interpret.attrib.base import one_hot
from genomefactory.interpret.motifs import MotifDB
from genomefactory.interpret.motifs.discover import classify_patterns, run_modisco, trim
from genomefactory.interpret.motifs.match import tomtom_matches
from genomefactory.interpret.motifs.planted import plant


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
def test_modisco_recovers_planted_motif_not_distractor(lambda_genome: str, jaspar_db: MotifDB) -> None:
    planted, distractor = jaspar_db.get("MA0139"), jaspar_db.get("MA0114")  # CTCF in class 1; HNF4A in all
    data = plant(lambda_genome, {0: [], 1: [planted]}, [distractor], n_per_class=120, length=160, seed=3)
    oh = one_hot(data.sequences)
    patterns = run_modisco(oh, _oracle(data, jaspar_db, oh), min_metacluster_size=50, n_leiden_runs=4)
    classify_patterns(patterns, oh, data.labels, target=1)
    for p, m in zip(patterns, tomtom_matches([p.ppm.T for p in patterns], jaspar_db, top=5), strict=True):
        p.matches = m
    found = {p.matches[0].id.split(".")[0]: p for p in patterns if p.matches}
    assert "MA0139" in found and "MA0114" in found, {k: v.n_seqlets for k, v in found.items()}
    assert found["MA0139"].stats["discriminative"]
    assert found["MA0139"].matches[0].q_value < 0.01
    assert not found["MA0114"].stats["discriminative"]
    assert found["MA0114"].role == "shared"
    # discriminative patterns are exactly those whose best match is the planted motif
    assert {p.matches[0].id.split(".")[0] for p in patterns if p.stats["discriminative"]} == {"MA0139"}
