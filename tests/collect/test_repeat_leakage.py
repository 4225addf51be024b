"""Opt-in `qc.drop_repeat_leakage`: dev/test fragments mostly present in train through a genome repeat are dropped.

Checked on the real A. thaliana chloroplast (its ~26 kb inverted repeat puts the same sequence at two loci) against
a pure-Python recomputation of the sampled canonical 32-mers, with the same seed run with the step off as reference.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from genomefactory.collect.config import ProcessConfig, QCConfig
from genomefactory.collect.leakage import drop_repeat_leakage
from genomefactory.collect.process import run_process
from genomefactory.collect.qc import QCError
from genomefactory.collect.segment import SeqBatch
from genomefactory.sequence import reverse_complement

from .test_process import read_split

_TO_DIGITS = str.maketrans("ACGT", "0123")
_MASK64 = (1 << 64) - 1


def sampled(seq: str) -> list[int]:
    """Canonical 2-bit 32-mers of ``seq`` kept by the 1-in-16 hash rule, one per position (independent of numpy)."""
    out = []
    for i in range(len(seq) - 31):
        w = seq[i : i + 32]
        if set(w) <= set("ACGT"):
            canon = min(int(w.translate(_TO_DIGITS), 4), int(reverse_complement(w).translate(_TO_DIGITS), 4))
            mixed = (canon * 0x9E3779B97F4A7C15) & _MASK64
            if (mixed ^ (mixed >> 29)) % 16 == 0:
                out.append(canon)
    return out


def chloroplast(shared_data: Path, out: Path, **qc: Any) -> ProcessConfig:
    genomes = [{"path": shared_data / "genomes" / "NC_000932.gb", "label": "chloroplast"}]
    return ProcessConfig.model_validate(
        {
            "task": "species",
            "output_dir": out,
            "plots": False,
            "seed": 3,
            "qc": qc,
            "species": {"genomes": genomes, "fragments_per_species": 400, "length": {"min": 300, "max": 600}},
        }
    )


def splits(out: Path) -> dict[str, list[str]]:
    return {s: [q for q, _ in read_split(out, s)] for s in ("train", "dev", "test")}


def test_drops_exactly_the_dev_test_rows_over_threshold(shared_data: Path, tmp_path: Path) -> None:
    off = run_process(chloroplast(shared_data, tmp_path / "off", repeat_leakage_report=True))
    on = run_process(chloroplast(shared_data, tmp_path / "on", drop_repeat_leakage=True))
    before, after = splits(off.output_dir), splits(on.output_dir)
    assert Counter(after["train"]) == Counter(before["train"])  # train is never touched
    train = {c for q in before["train"] for c in sampled(q)}
    rep = json.loads(on.qc_report.read_text())
    step = rep["steps"][-1]
    assert step["step"] == "repeat_leakage" and step["min_shared"] == 0.5
    removed_total = 0
    for name in ("dev", "test"):
        expect_drop = []
        for q in before[name]:
            ks = sampled(q)
            if ks and sum(k in train for k in ks) >= 0.5 * len(ks):
                expect_drop.append(q)
        # exactly the rows over the threshold are gone; every survivor shares less than it
        assert Counter(after[name]) == Counter(before[name]) - Counter(expect_drop)
        for q in after[name]:
            ks = sampled(q)
            assert not ks or sum(k in train for k in ks) < 0.5 * len(ks)
        got = step["by_split"][name]["0"]
        assert got == {"before": len(before[name]), "removed": len(expect_drop), "after": len(after[name])}
        assert rep["split_counts_by_label"][name]["0"] == got["after"]
        removed_total += len(expect_drop)
    assert 10 <= removed_total == step["removed"] == step["reasons"]["shares_kmers_with_train"]
    n = rep["initial"]
    for s in rep["steps"]:  # the chain of counts still adds up, through the new last step
        assert (
            s["before"] == n
            and s["before"] - s["removed"] == s["after"]
            and sum(s["reasons"].values()) == s["removed"]
        )
        n = s["after"]
    assert n == rep["after_qc"] == sum(rep["split_counts"].values())
    # measured after the step: every dropped row was sharing, the survivors share as before (train is unchanged)
    left = json.loads(off.qc_report.read_text())["repeat_leakage"]
    now = rep["repeat_leakage"]
    assert now["after_drop_step"] is True and now["test"]["0"]["rows"] == len(after["test"])
    for name in ("dev", "test"):
        dropped = step["by_split"][name]["0"]["removed"]
        assert now[name]["0"]["sharing_with_train"] == left[name]["0"]["sharing_with_train"] - dropped


def test_lowest_threshold_leaves_no_sharing_and_default_is_off(shared_data: Path, tmp_path: Path) -> None:
    assert QCConfig().drop_repeat_leakage is False
    on = run_process(
        chloroplast(shared_data, tmp_path, drop_repeat_leakage=True, repeat_leakage_min_shared=0.001)
    )
    rep = json.loads(on.qc_report.read_text())
    assert all(rep["repeat_leakage"][s]["0"]["sharing_with_train"] == 0 for s in ("dev", "test"))
    train = {c for q in splits(tmp_path)["train"] for c in sampled(q)}
    assert not any(k in train for s in ("dev", "test") for q in splits(tmp_path)[s] for k in sampled(q))


def _batch(seqs: list[str]) -> SeqBatch:
    n = len(seqs)
    return SeqBatch.from_sequences(
        [s.encode() for s in seqs],
        np.zeros(n, dtype=np.int64),
        np.arange(n),
        np.arange(n),
        np.zeros(n, dtype=np.int64),
    )


def test_threshold_is_a_fraction_and_an_emptied_split_is_an_error() -> None:
    rng = np.random.default_rng(0)
    a, b, c = ("".join(rng.choice(list("ACGT"), size=600)) for _ in range(3))
    half = reverse_complement(a[:300]) + c[:300]  # half of it is in train, on the other strand
    cfg = QCConfig(drop_repeat_leakage=True, repeat_leakage_min_shared=0.4)
    kept, split, entry, report = drop_repeat_leakage(
        _batch([a, half, b, c[300:]]), np.array([0, 2, 2, 1]), cfg
    )
    assert kept.sequences() == [a, b, c[300:]] and split.tolist() == [0, 2, 1]
    assert entry is not None and entry["by_split"]["test"]["0"] == {"before": 2, "removed": 1, "after": 1}
    assert report["test"]["0"] == {"rows": 1, "sharing_with_train": 0}
    strict = cfg.model_copy(update={"repeat_leakage_min_shared": 0.6})
    assert len(drop_repeat_leakage(_batch([a, half, b]), np.array([0, 2, 2]), strict)[0]) == 3
    with pytest.raises(QCError, match=r"every test sequence.*repeat_leakage_min_shared"):
        drop_repeat_leakage(_batch([a, a[::-1], a[100:]]), np.array([0, 1, 2]), cfg)


def test_repeat_leakage_is_not_computed_unless_asked(shared_data: Path, tmp_path: Path) -> None:
    """Without the drop or the report switch the 32-mer pass is skipped, and the report says so."""
    rep = json.loads(run_process(chloroplast(shared_data, tmp_path)).qc_report.read_text())["repeat_leakage"]
    assert rep["measured"] is False and "repeat_leakage_report" in rep["why"]
