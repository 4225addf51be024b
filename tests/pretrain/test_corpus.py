"""The FASTA collection: held-out split disjoint from training, packing, seeded window draws, gzip input."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from genomefactory.config import ConfigError
from genomefactory.errors import DataError
from genomefactory.pretrain.corpus import Corpus
from genomefactory.sequence import reverse_complement


def _fasta(path: Path, records: dict[str, str]) -> Path:
    path.write_text("".join(f">{k}\n{v}\n" for k, v in records.items()))
    return path


def _random_records(rng: np.random.Generator, lengths: dict[str, int]) -> dict[str, str]:
    return {k: "".join(rng.choice(list("ACGT"), n)) for k, n in lengths.items()}


def test_held_out_contigs_never_reach_training_and_windows_are_real_substrings(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    recs = _random_records(rng, {"a": 900, "b": 700, "c": 1200, "d": 500})
    fa = _fasta(tmp_path / "g.fa", recs)
    corpus = Corpus([str(fa)], 100, val_fraction=0.3, seed=3)
    held = {p.name for s in corpus.val for p in s.pieces}
    train = {p.name for s in corpus.train for p in s.pieces}
    assert held and train and not held & train
    assert sum(len(recs[n]) for n in held) >= 0.3 * sum(map(len, recs.values()))
    for i in range(50):
        w = corpus.train_window(7, i, rc_augment=False, max_n=0.1)
        assert len(w) == 100 and any(w in recs[n] for n in train)
        assert w == corpus.train_window(7, i, rc_augment=False, max_n=0.1)  # window i is fixed by (seed, i)
    assert corpus.train_window(7, 0, False, 0.1) != corpus.train_window(8, 0, False, 0.1)
    tiles = corpus.val_tiles(1000)
    assert len(tiles) == sum(len(recs[n]) // 100 for n in held)
    assert all(any(corpus.window_seq(corpus.val, t) in recs[n] for n in held) for t in tiles)
    corpus.close()


def test_explicit_val_contigs_and_unknown_names(tmp_path: Path) -> None:
    recs = _random_records(np.random.default_rng(1), {"x": 400, "y": 400})
    fa = _fasta(tmp_path / "g.fa", recs)
    c = Corpus([str(fa)], 100, val_contigs=["y"])
    assert [p.name for s in c.val for p in s.pieces] == ["y"]
    assert [p.name for s in c.train for p in s.pieces] == ["x"]
    with pytest.raises(ConfigError, match=r"val_contigs: \['z'\] are not records"):
        Corpus([str(fa)], 100, val_contigs=["z"])
    with pytest.raises(ConfigError, match="every record"):
        Corpus([str(fa)], 100, val_contigs=["x", "y"])


def test_single_record_holds_out_its_last_region(tmp_path: Path) -> None:
    seq = _random_records(np.random.default_rng(2), {"chr": 1000})["chr"]
    fa = _fasta(tmp_path / "one.fa", {"chr": seq})
    c = Corpus([str(fa)], 50, val_fraction=0.2)
    (tr,), (va,) = c.train, c.val
    assert (tr.pieces[0].start, tr.pieces[0].end, va.pieces[0].start, va.pieces[0].end) == (0, 800, 800, 1000)
    for i in range(30):  # no training window reaches into the held-out region
        w = c.train_window(0, i, rc_augment=True, max_n=0.1)
        assert w in seq[:800] or reverse_complement(w) in seq[:800]
    assert [c.window_seq(c.val, t) for t in c.val_tiles(10)] == [
        seq[s : s + 50] for s in range(800, 1000, 50)
    ]


def test_short_records_are_packed_into_full_windows(tmp_path: Path) -> None:
    recs = _random_records(np.random.default_rng(3), {f"r{i}": 30 for i in range(10)} | {"long": 500})
    fa = _fasta(tmp_path / "g.fa", recs)
    c = Corpus([str(fa)], 100, val_contigs=["long"])
    # ten 30-base records: packs of four (120 bases) twice, the last two (60 bases) dropped
    assert [[p.name for p in s.pieces] for s in c.train] == [
        ["r0", "r1", "r2", "r3"],
        ["r4", "r5", "r6", "r7"],
    ]
    packed = "".join(recs[f"r{i}"] for i in range(4))
    assert c.read(c.train[0], 10, 100) == packed[10:110]
    with pytest.raises(DataError, match="no training sequence"):
        Corpus([str(fa)], 100, val_contigs=["long"], pack_short=False)


def test_plain_gzip_is_read_through_a_temporary_copy_and_names_must_be_unique(tmp_path: Path) -> None:
    recs = _random_records(np.random.default_rng(4), {"a": 300, "b": 300})
    gz = tmp_path / "g.fa.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write("".join(f">{k}\n{v}\n" for k, v in recs.items()))
    c = Corpus([str(gz)], 100, val_contigs=["b"])
    assert c.window_seq(c.val, c.val_tiles(1)[0]) == recs["b"][:100]
    tmp = c._tmp.name if c._tmp else ""
    c.close()
    assert tmp and not Path(tmp).exists()
    other = _fasta(tmp_path / "dup.fa", {"a": "ACGT" * 50})
    with pytest.raises(DataError, match="record 'a' is in both"):
        Corpus([str(gz), str(other)], 100)
