"""Built-in readouts: motif (IUPAC, overlapping, both strands), JASPAR PWM, k-mers, columns, errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from genomefactory.interpret.config import ReadoutSpec
from genomefactory.interpret.readouts import compute_readouts, count_motif, count_pwm_hits, read_jaspar

JASPAR = """>MA9999.1 TEST
A  [ 10  0  0  0 ]
C  [  0 10  0  0 ]
G  [  0  0 10  0 ]
T  [  0  0  0 10 ]
"""


def test_motif_counts() -> None:
    assert count_motif("AAAA", "AA", both_strands=False) == 3  # overlapping
    assert count_motif("TATAAATG", "TATAWAWR", both_strands=False) == 1  # W = A/T, R = A/G
    assert count_motif("TATAAAGG", "TATAWAWR", both_strands=False) == 0
    assert count_motif("CATTTATA", "TATAWAWR", both_strands=False) == 0
    assert count_motif("CATTTATA", "TATAWAWR", both_strands=True) == 1  # the reverse complement is TATAAATG
    assert count_motif("GAATTC", "GAATTC") == 2  # palindrome: once per strand
    with pytest.raises(ValueError, match="not an IUPAC"):
        count_motif("ACGT", "AXG")


def test_pwm_hits(tmp_path: Path) -> None:
    f = tmp_path / "m.jaspar"
    f.write_text(JASPAR)
    counts = read_jaspar(f)
    assert counts.shape == (4, 4)
    assert count_pwm_hits("TTACGTTT", counts, 0.99, both_strands=False) == 1
    assert (
        count_pwm_hits("TTACGTTT", counts, 0.99, both_strands=True) == 2
    )  # ACGT is its own reverse complement
    assert count_pwm_hits("TTTTTTTT", counts, 0.9) == 0
    bad = tmp_path / "bad.jaspar"
    bad.write_text("A [ 1 2 ]\nC [ 1 x ]\n")
    with pytest.raises(ValueError, match="line 2"):
        read_jaspar(bad)


def test_compute_readouts_table(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"id": ["a", "b", "c"], "sequence": ["ACGTACGT", "GGGGCC", "ATATNAT"], "species": ["x", "y", "x"]}
    )
    (tmp_path / "m.jaspar").write_text(JASPAR)
    specs = [
        ReadoutSpec(kind="length"),
        ReadoutSpec(kind="gc"),
        ReadoutSpec(kind="motif", motif="ACG"),
        ReadoutSpec(kind="pwm", pwm_file=str(tmp_path / "m.jaspar"), threshold=0.99),
        ReadoutSpec(kind="kmer", k=1),
        ReadoutSpec(kind="column", column="species"),
    ]
    out = compute_readouts(frame, specs)
    assert list(out["length"]) == [8, 6, 7]
    assert out["gc"].tolist() == pytest.approx([0.5, 1.0, 0.0])
    assert list(out["motif:ACG"]) == [4, 0, 0]  # ACG twice per strand (CGT on the other)
    assert list(out["species=y"]) == [0.0, 1.0, 0.0]
    assert out[[f"kmer:{b}" for b in "ACGT"]].sum(axis=1).tolist() == pytest.approx([1.0, 1.0, 1.0])
    extra = tmp_path / "extra.csv"
    extra.write_text("id,expr\nc,3.5\na,1.0\nb,2.0\n")
    joined = compute_readouts(frame, [ReadoutSpec(kind="column", column="expr")], str(extra))
    assert joined["expr"].tolist() == [1.0, 2.0, 3.5]
    with pytest.raises(ValueError, match="'nope' not found"):
        compute_readouts(frame, [ReadoutSpec(kind="column", column="nope")])
    with pytest.raises(ValueError, match="keep_sequence"):
        compute_readouts(frame.drop(columns=["sequence"]), [ReadoutSpec(kind="gc")])
