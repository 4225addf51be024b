"""JASPAR motif readouts for sae_regression: FIMO presence / counts / max score of planted sites."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyjaspar")
pytest.importorskip("memelite")

from genomefactory.errors import DataError
from genomefactory.interpret.config import ReadoutSpec
from genomefactory.interpret.motifs import MotifDB
from genomefactory.interpret.motifs.planted import plant
from genomefactory.interpret.motifs.scan import log_odds
from genomefactory.interpret.readouts import compute_readouts


def test_jaspar_readout_sees_planted_sites(lambda_genome: str, jaspar_db: MotifDB) -> None:
    ctcf = jaspar_db.get("MA0139")
    data = plant(lambda_genome, {0: [], 1: [ctcf]}, [], n_per_class=40, length=90, seed=1)
    frame = pd.DataFrame({"id": [str(i) for i in range(len(data.sequences))], "sequence": data.sequences})
    specs = [
        ReadoutSpec(kind="jaspar", jaspar_id="MA0139", statistic="presence"),
        ReadoutSpec(kind="jaspar", jaspar_id="CTCF", statistic="max_score", name="ctcf_score"),
        ReadoutSpec(kind="jaspar", jaspar_id=ctcf.id, statistic="count", name="ctcf_hits"),
    ]
    out = compute_readouts(frame, specs)
    name = f"CTCF ({ctcf.id}) presence"  # the readout carries the JASPAR id into the report
    assert list(out.columns) == [name, "ctcf_score", "ctcf_hits"]
    present = out[name].to_numpy()
    labels = data.labels
    assert present[labels == 1].mean() > 0.8 and present[labels == 0].mean() < 0.2
    assert ((out["ctcf_hits"] > 0) == (present > 0)).all()
    # the max score of a sequence holding a planted site is at least that site's own score (either strand)
    pwm = log_odds(ctcf.ppm)
    comp = str.maketrans("ACGT", "TGCA")
    for n in np.flatnonzero(labels == 1)[:10]:
        site = data.sites[n][0]
        s = data.sequences[n][site.start : site.end]
        s = s if site.strand == "+" else s.translate(comp)[::-1]
        own = sum(pwm["ACGT".index(c), j] for j, c in enumerate(s))
        assert out["ctcf_score"].iloc[n] >= own - 1e-9
    with pytest.raises(DataError, match="jaspar_id"):
        compute_readouts(frame, [ReadoutSpec(kind="jaspar")])


def test_unit_motif_aligns_top_windows_to_the_planted_motif(
    lambda_genome: str, jaspar_db: MotifDB, tmp_path
) -> None:
    from genomefactory.interpret.motifs.units import unit_motif

    ctcf = jaspar_db.get("MA0139")
    data = plant(lambda_genome, {0: [], 1: [ctcf]}, [], n_per_class=40, length=90, seed=2)
    acts = []
    for s, sites in zip(data.sequences, data.sites, strict=True):  # a unit that fires at the site's centre
        a = np.zeros(len(s))
        for site in sites:
            a[(site.start + site.end) // 2] = 1.0 + 0.01 * site.start
        acts.append(a)
    res = unit_motif(7, acts, data.sequences, jaspar_db, width=ctcf.width, logo_dir=tmp_path)
    assert len(res.windows) >= 30
    assert any(m.id == ctcf.id for m in res.matches[:3]), res.matches
    assert res.logo is not None and res.logo.stat().st_size > 1000
