"""Motif database, TOMTOM and FIMO-style scanning: MEME parsing, JASPAR loading, self-matches, brute force."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyjaspar")
pytest.importorskip("memelite")

from genomefactory.errors import DataError
from genomefactory.interpret.motifs import load_jaspar, read_meme, write_meme
from genomefactory.interpret.motifs.match import tomtom_matches
from genomefactory.interpret.motifs.scan import fimo_hits, log_odds, max_scores

MEME = """MEME version 4

ALPHABET= ACGT

strands: + -

Background letter frequencies
A 0.25 C 0.25 G 0.25 T 0.25

MOTIF MA0001.1 AGL3
letter-probability matrix: alength= 4 w= 3 nsites= 97 E= 0
 0.5 0.25 0.25 0.0
 0.0 1.0 0.0 0.0
 0.1 0.2 0.3 0.4

MOTIF only_id
letter-probability matrix: alength= 4 w= 2 nsites= 1 E= 0
1 0 0 0
0 0 0 2
URL http://example.org
"""


@pytest.fixture(scope="module")
def jaspar(jaspar_db: object) -> object:
    return jaspar_db


def test_meme_parsing(tmp_path: Path) -> None:
    p = tmp_path / "m.meme"
    p.write_text(MEME)
    db = read_meme(p)
    assert [m.id for m in db.motifs] == ["MA0001.1", "only_id"]
    assert db.motifs[0].name == "AGL3" and db.motifs[1].name == "only_id"
    assert db.motifs[0].ppm.shape == (4, 3)
    assert np.allclose(db.motifs[0].ppm[:, 0], [0.5, 0.25, 0.25, 0.0])
    assert np.allclose(db.motifs[1].ppm[:, 1], [0, 0, 0, 1])  # normalised column
    # round trip through write_meme
    write_meme(tmp_path / "out.meme", db.motifs)
    again = read_meme(tmp_path / "out.meme")
    assert [m.id for m in again.motifs] == ["MA0001.1", "only_id"]
    assert np.allclose(again.motifs[0].ppm, db.motifs[0].ppm, atol=1e-6)


def test_meme_errors_name_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.meme"
    p.write_text(MEME.replace(" 0.0 1.0 0.0 0.0", " 0.0 1.0 x 0.0"))
    with pytest.raises(DataError, match=r"line 13: motif MA0001.1 row 2"):
        read_meme(p)
    p.write_text("hello\n")
    with pytest.raises(DataError, match="no MOTIF"):
        read_meme(p)


def test_jaspar_loading(jaspar: object) -> None:
    from genomefactory.interpret.motifs import MotifDB

    assert isinstance(jaspar, MotifDB)
    assert len(jaspar) > 500
    ctcf = jaspar.get("MA0139")
    assert ctcf.name == "CTCF" and ctcf.id.startswith("MA0139.")
    assert np.allclose(ctcf.ppm.sum(0), 1.0)
    assert jaspar.get("CTCF").id == ctcf.id
    one = load_jaspar("JASPAR2020", ids=["MA0139.1"])
    assert [m.id for m in one.motifs] == ["MA0139.1"]
    with pytest.raises(DataError, match="not shipped"):
        load_jaspar("JASPAR1999")
    with pytest.raises(DataError, match="not in"):
        jaspar.get("NOT_A_TF")


def test_tomtom_self_match_is_own_id(jaspar: object) -> None:
    from genomefactory.interpret.motifs import MotifDB

    assert isinstance(jaspar, MotifDB)
    picks = [jaspar.get(k) for k in ("MA0139", "MA0108", "MA0079", "MA0112")]  # CTCF, TBP, SP1, ESR1
    res = tomtom_matches([m.ppm for m in picks], jaspar, top=3)
    for m, matches in zip(picks, res, strict=True):
        assert matches[0].id == m.id, (m.label, matches[0])
        assert matches[0].strand == "+" and matches[0].q_value < 0.05
    # the reverse complement matches the same motif on the - strand
    rc = tomtom_matches([picks[0].ppm[::-1, ::-1].copy()], jaspar, top=1)[0][0]
    assert rc.id == picks[0].id and rc.strand == "-"


def _one_hot(seqs: list[str]) -> np.ndarray:
    x = np.zeros((len(seqs), max(map(len, seqs)), 4), dtype=np.float32)
    for n, s in enumerate(seqs):
        for i, c in enumerate(s):
            x[n, i, "ACGT".index(c)] = 1
    return x


def test_max_scores_equal_brute_force_and_fimo() -> None:
    rng = np.random.default_rng(0)
    ppm = rng.dirichlet(np.full(4, 0.3), size=7).T  # (4, 7)
    seqs = ["".join(rng.choice(list("ACGT"), 40)) for _ in range(6)]
    pwm = log_odds(ppm)
    comp = {"A": "T", "C": "G", "G": "C", "T": "A"}
    want = []
    for s in seqs:
        rc = "".join(comp[c] for c in reversed(s))
        best = max(
            sum(pwm["ACGT".index(t[i + k]), k] for k in range(7)) for t in (s, rc) for i in range(len(s) - 6)
        )
        want.append(best)
    got = max_scores(ppm, _one_hot(seqs))
    assert np.allclose(got, want)
    # a planted consensus is a FIMO hit in exactly the sequences that hold it (either strand)
    cons = "".join("ACGT"[i] for i in ppm.argmax(0))
    rc = "".join(comp[c] for c in reversed(cons))
    planted = [s[:5] + cons + s[12:] if n in (1, 4) else s for n, s in enumerate(seqs)]
    planted[2] = planted[2][:20] + rc + planted[2][27:]
    best = max_scores(ppm, _one_hot(planted))
    assert np.isclose(best[1], pwm.max(0).sum())
    hits = fimo_hits(
        {"m": ppm}, _one_hot(planted), threshold=1e-3
    )  # 4^-7 is the best p-value of a 7-wide motif
    assert {1, 2, 4} <= set(hits["m"].tolist())
