"""The shared genome opener: compression sniffed from bytes, plain gzip refused up front, bgzip read."""

from __future__ import annotations

import gzip
from pathlib import Path

import pysam
import pytest

from genomefactory.errors import DataError, UserError, UserFileNotFoundError
from genomefactory.genome import compression, open_genome

SEQ = "ACGTTGCAAC" * 30


def _fasta(path: Path) -> Path:
    path.write_text(
        ">chrA desc\n" + "\n".join(SEQ[i : i + 60] for i in range(0, len(SEQ), 60)) + "\n>chrB\nacgtn\n"
    )
    return path


def test_compression_is_read_from_bytes_not_suffix(tmp_path: Path) -> None:
    plain = _fasta(tmp_path / "g.fa")
    fake = tmp_path / "plain_named.fa.gz"
    fake.write_bytes(plain.read_bytes())
    gz = tmp_path / "g.fa.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    bgz = tmp_path / "g.bgz.fa.gz"
    pysam.tabix_compress(str(plain), str(bgz))
    assert compression(plain) == "none"
    assert compression(fake) == "none"
    assert compression(gz) == "gzip"
    assert compression(bgz) == "bgzip"


def test_plain_gzip_is_one_clear_error(tmp_path: Path) -> None:
    gz = tmp_path / "g.fa.gz"
    gz.write_bytes(gzip.compress(_fasta(tmp_path / "g.fa").read_bytes()))
    with pytest.raises(DataError, match=r"plain gzip.*bgzip") as exc:
        open_genome(gz)
    assert isinstance(exc.value, UserError)
    assert not (tmp_path / "g.fa.gz.fai").exists()


def test_missing_genome_names_the_role(tmp_path: Path) -> None:
    with pytest.raises(UserFileNotFoundError, match=r"genomes\[hg38\].*nope.fa"):
        open_genome(tmp_path / "nope.fa", what="genomes[hg38]")


@pytest.mark.parametrize("bgzipped", [False, True])
def test_fetch_matches_the_text(tmp_path: Path, bgzipped: bool) -> None:
    path = _fasta(tmp_path / "g.fa")
    if bgzipped:
        bgz = tmp_path / "g.fa.gz"
        pysam.tabix_compress(str(path), str(bgz))
        path = bgz
    fa = open_genome(path)
    assert sorted(fa.keys()) == ["chrA", "chrB"]
    assert fa["chrA"][17:95] == SEQ[17:95]
    assert fa["chrB"][0:5] == "ACGTN"
