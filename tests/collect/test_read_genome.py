"""The genome reader of `process`: bad genome files are one-line DataErrors naming the file."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from genomefactory.collect.segment import read_genome
from genomefactory.errors import DataError, UserFileNotFoundError

_RNG = random.Random(0)
_A = "".join(_RNG.choice("ACGTRYN") for _ in range(20_000)).encode()
GENOME = b">chrA test\n" + _A + b"\n>chrB\n" + b"acgt" * 500 + b"\n"


def test_plain_and_gzipped_genomes_read_alike(tmp_path: Path) -> None:
    (tmp_path / "g.fa").write_bytes(GENOME)
    (tmp_path / "g.fa.gz").write_bytes(gzip.compress(GENOME))
    (tmp_path / "gz_inside.fasta").write_bytes(gzip.compress(GENOME))  # gzip recognised by content
    got = [
        [(c.name, c.seq.tobytes()) for c in read_genome(tmp_path / n)]
        for n in ("g.fa", "g.fa.gz", "gz_inside.fasta")
    ]
    assert got[0] == got[1] == got[2]
    assert got[0] == [("chrA", _A), ("chrB", b"ACGT" * 500)]


@pytest.mark.parametrize(
    ("name", "data", "pattern"),
    [
        ("cut.fa.gz", gzip.compress(GENOME)[:-200], "gzip data is damaged or cut short"),
        ("cut_header.fa.gz", gzip.compress(GENOME)[:6], "gzip data is damaged or cut short"),
        ("only_gt.fa", b">\n", r"record 1 \(seq1\) has no sequence"),
        ("empty_last.fa", b">a\nACGT\n>b\n", r"record 2 \(b\) has no sequence"),
        ("empty.fa", b"", "is empty"),
        ("text.fa", b"hello\n", "not a FASTA file"),
        ("char.fa", b">a\nACGTX\n", r"record 1 \(a\): invalid character 'X' at position 4"),
    ],
)
def test_bad_genomes_are_named_data_errors(tmp_path: Path, name: str, data: bytes, pattern: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DataError, match=pattern) as info:
        read_genome(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_genome(tmp_path: Path) -> None:
    with pytest.raises(UserFileNotFoundError, match=r"genome: file .*nope\.fa' not found"):
        read_genome(tmp_path / "nope.fa")
