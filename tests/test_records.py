"""The one record reader: suffix and id rules, round trips through every format, named errors, flat memory."""

from __future__ import annotations

import csv
import gzip
import io
import random
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from genomefactory import records
from genomefactory.errors import DataError, UserError, UserFileNotFoundError
from genomefactory.records import Record, iter_chunks, read_fasta, read_frame, read_records
from genomefactory.sequence import IUPAC

SETTINGS = settings(
    derandomize=True, deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
FORMATS = ["fasta", "fa.gz", "fas", "fna", "csv", "csv.gz", "tsv", "tab", "tsv.bgz"]


# -- writers (independent of the reader: the csv module and plain text) -----------------------------------
def write_records(
    path: Path, recs: list[tuple[str, str, str]], with_ids: bool = True, width: int = 60
) -> Path:
    """Write (id, sequence, label) triples in the format the file name says; FASTA drops the labels."""
    name = path.name.lower()
    if ".fa" in name or ".fna" in name:
        text = "".join(
            f">{rid} some description\n"
            + "".join(seq[i : i + width] + "\n" for i in range(0, len(seq), width))
            for rid, seq, _ in recs
        )
    else:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter="," if ".csv" in name else "\t", lineterminator="\n")
        writer.writerow(["id", "sequence", "label"] if with_ids else ["sequence", "label"])
        for rid, seq, label in recs:
            writer.writerow([rid, seq, label] if with_ids else [seq, label])
        text = buf.getvalue()
    data = text.encode()
    path.write_bytes(gzip.compress(data) if name.endswith((".gz", ".bgz")) else data)
    return path


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


# -- rules -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "fasta", "table", "stem"),
    [
        ("x.fa", True, False, "x"),
        ("x.FASTA.GZ", True, False, "x"),
        ("x.fas", True, False, "x"),
        ("x.ffn.bgz", True, False, "x"),
        ("x.fsa", True, False, "x"),
        ("train.labels.csv", False, True, "train.labels"),
        ("x.tsv.gz", False, True, "x"),
        ("x.tab", False, True, "x"),
        ("x.txt", False, False, None),
        ("x.gz", False, False, None),
        ("x.fa.fai", False, False, None),
    ],
)
def test_suffix_rule(name: str, fasta: bool, table: bool, stem: str | None) -> None:
    assert records.is_fasta(name) is fasta and records.is_table(name) is table
    assert records.record_stem(name) == stem


def test_id_rule_and_metadata(tmp: Path) -> None:
    fa = tmp / "a.fa"
    fa.write_text(">chr1 Homo sapiens\nacgt\nNN\n\n>chr2\tdesc\nRYK\n")
    assert [(r.id, r.sequence, r.row) for r in read_records(fa)] == [
        ("chr1", "ACGTNN", 1),
        ("chr2", "RYK", 2),
    ]
    tab = tmp / "a.csv"
    tab.write_text("name,sequence,score,note\nx,ACGT,1,\ny,GG,2,hello\n")
    got = list(read_records(tab))
    assert [r.id for r in got] == ["row1", "row2"]  # no id column: row<N>, N the 1-based data row
    assert got[0].meta["name"] == "x" and got[1].meta == {"name": "y", "score": 2, "note": "hello"}
    assert got[0].meta["note"] != got[0].meta["note"]  # an empty metadata cell is NaN, as pandas reads it
    assert [r.id for r in read_records(tab, id_column="name")] == ["x", "y"]
    with pytest.raises(DataError, match="no id column 'nope'"):
        read_records(tab, id_column="nope")


def test_text_that_looks_missing_stays_text(tmp: Path) -> None:
    """pandas reads 'NA', 'null' and 'nan' as missing; a sequence NA (N then A) or an id null must stay text."""
    p = tmp / "na.tsv"
    p.write_text("id\tseq\tlabel\nnull\tNA\tNA\nNaN\tnan\t\n")
    got = list(read_records(p, label_column="label"))
    assert [(r.id, r.sequence, r.label) for r in got] == [("null", "NA", "NA"), ("NaN", "NAN", "")]


def test_compression_is_read_from_the_content(tmp: Path) -> None:
    plain = b">a\nACGT\n"
    (tmp / "gz.fasta").write_bytes(gzip.compress(plain))  # gzip bytes behind a plain suffix
    (tmp / "plain.fa.gz").write_bytes(plain)  # plain text behind .gz
    for name in ("gz.fasta", "plain.fa.gz"):
        assert [(r.id, r.sequence) for r in read_records(tmp / name)] == [("a", "ACGT")]


def test_chunks_and_frame(tmp: Path) -> None:
    rng = random.Random(0)
    recs = [
        (f"s{i}", "".join(rng.choice("ACGT") for _ in range(rng.randint(1, 30))), str(i % 3))
        for i in range(25)
    ]
    for fmt in ("fa", "csv"):
        path = write_records(tmp / f"c.{fmt}", recs)
        chunks = list(iter_chunks(path, 7))
        assert [len(c) for c in chunks] == [7, 7, 7, 4]
        assert [(r.id, r.sequence) for c in chunks for r in c] == [(a, b) for a, b, _ in recs]
    frame = read_frame(tmp / "c.csv", label_column="label")
    assert list(frame.columns) == ["id", "sequence", "label"] and frame["label"].tolist() == [
        c for *_, c in recs
    ]


def test_read_fasta_is_a_view_of_the_reader(tmp: Path) -> None:
    p = tmp / "prompts.txt"  # a caller that knows the file is FASTA: no suffix rule, repeats allowed
    p.write_text(">p\nacg\n>p\nTTT\n")
    assert list(read_fasta(p)) == [("p", "ACG"), ("p", "TTT")]
    with pytest.raises(DataError, match="record 2 has an empty header"):
        list(read_fasta(_write(tmp / "e.fa", b">a\nA\n>\nC\n")))


# -- every bad input is one named UserError ----------------------------------------------------------------
def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


_many = "".join(f">r{i}\nACGTTGCA\n" for i in range(5000)).encode()
BAD: dict[str, tuple[bytes, str]] = {
    "empty.fa": (b"", "is empty"),
    "blank.fa": (b"\n\n  \n", "has no FASTA records"),
    "only_gt.fasta": (b">\n", "record 1 has an empty header"),
    "before.fa": (b"ACGT\n>x\nA\n", "line 1: sequence data before the first '>' header"),
    "nohits.fa": (b">x\n\n>y\nAC\n", r"record 1 \(x\): sequence is empty"),
    "char.fa": (b">x\nAC\n>y\nACGU\n", r"record 2 \(y\): invalid character 'U' at position 3"),
    "dup.fas": (b">x\nA\n>y\nC\n>x\nG\n", r"id 'x' occurs twice \(record 1 and record 3\)"),
    "header_only.csv": (b"id,sequence\n", "has no rows"),
    "nocol.csv": (
        b"name,dna\nx,ACGT\n",
        r"no sequence column; expected 'sequence' or 'seq' \(columns: name, dna\)",
    ),
    "dupcol.csv": (b"seq,seq\nA,C\n", "column 'seq' appears more than once"),
    "sharp_s.fa": (">x\nAßA\n".encode(), "invalid character 'ß' at position 1"),  # 'ß'.upper() is 'SS'
    "char.tsv": (b"seq\nACGT\nAC-T\n", "row 2: invalid character '-' at position 2"),
    "emptyseq.tab": (b"id\tseq\na\t\n", "row 1: sequence is empty"),
    "emptyid.csv": (b"id,seq\n,ACGT\n", "row 1: empty id"),
    "dup.csv": (b"id,seq\na,A\nb,C\na,G\n", r"id 'a' occurs twice \(row 1 and row 3\)"),
    "wide.csv": (b"seq\nACGT,1\n", "more fields than the header"),
    "ragged.csv": (b"a,seq\n1,A\n2,C\n3,G,4\n", "data row 3"),
    "quote.csv": (b'seq\n"ACGT\n', "not a well-formed CSV"),
    "binary.csv": (bytes(range(256)) * 4, "binary file"),
    "latin1.fa": (">caf\xe9\nACGT\n".encode("latin-1"), "is not UTF-8 text"),
    "gzip_in.fasta": (gzip.compress(_many)[:300], "gzip data is damaged or cut short"),
    "trunc.fa.gz": (gzip.compress(b">a\nACGT\n>b\nGG\n")[:-6], "gzip data is damaged or cut short"),
    "trunc.csv.gz": (gzip.compress(b"seq\n" + b"ACGT\n" * 3000)[:-40], "gzip data is damaged or cut short"),
    "bz.fa": (b"BZh91AY&SY", "bzip2 data; decompress it"),
    "zip.csv": (b"PK\x03\x04rest", "zip archive"),
    "reads.txt": (b">a\nACGT\n", "cannot tell the format from the file name"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_inputs_are_one_line_data_errors_naming_the_file(tmp: Path, name: str) -> None:
    data, pattern = BAD[name]
    path = _write(tmp / name, data)
    with pytest.raises(DataError, match=pattern) as info:
        list(read_records(path))
    message = str(info.value)
    assert str(path) in message and "\n" not in message


def test_missing_file_and_bad_options(tmp: Path) -> None:
    with pytest.raises(UserFileNotFoundError, match=r"embed\.input: file '.*missing\.fa' not found"):
        read_records(tmp / "missing.fa", what="embed.input")  # raised at the call, before any iteration
    with pytest.raises(UserFileNotFoundError, match="is a folder"):
        read_records(tmp)
    fa = _write(tmp / "a.fa", b">a\nA\n")
    with pytest.raises(DataError, match="a FASTA file has no label column 'label'"):
        read_records(fa, label_column="label")
    tab = _write(tmp / "a.csv", b"sequence,y\nA,1\n")
    with pytest.raises(DataError, match=r"no label column 'label' \(columns: sequence, y\)"):
        list(read_records(tab, label_column="label"))
    with pytest.raises(DataError, match="no sequence column 'dna'"):
        list(read_records(tab, sequence_column="dna"))


# -- property-based: round trips and never another exception type ------------------------------------------
_ids = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:|-", min_size=1, max_size=12
)
_seqs = st.text(alphabet=IUPAC + IUPAC.lower(), min_size=1, max_size=200)
_labels = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=8)
_recs = st.lists(st.tuples(_ids, _seqs, _labels), min_size=1, max_size=30, unique_by=lambda r: r[0])


def _tempdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


@SETTINGS
@given(recs=_recs, fmt=st.sampled_from(FORMATS), with_ids=st.booleans(), width=st.integers(1, 80))
def test_valid_records_round_trip_through_every_format(
    recs: list[tuple[str, str, str]], fmt: str, with_ids: bool, width: int
) -> None:
    for d in _tempdir():
        path = write_records(d / f"recs.{fmt}", recs, with_ids, width)
        fasta = records.is_fasta(path)
        got = list(read_records(path, label_column=None if fasta else "label"))
        ids = [r for r, _, _ in recs] if with_ids or fasta else [f"row{i}" for i in range(1, len(recs) + 1)]
        assert [r.id for r in got] == ids
        assert [r.sequence for r in got] == [s.upper() for _, s, _ in recs]
        assert [r.label for r in got] == ([None] * len(recs) if fasta else [lab for *_, lab in recs])
        assert [r.row for r in got] == list(range(1, len(recs) + 1))


def _assert_user_error_naming(path: Path, exc: BaseException) -> None:
    assert isinstance(exc, UserError), f"{type(exc).__name__}: {exc}"
    assert str(path) in str(exc) and "\n" not in str(exc)


def _read_all(path: Path) -> BaseException | None:
    try:
        for _ in read_records(path):
            pass
    except Exception as exc:
        return exc
    return None


@SETTINGS
@given(recs=_recs, fmt=st.sampled_from(FORMATS), which=st.integers(0, 29), bad=st.characters())
def test_a_bad_character_is_a_data_error_naming_file_and_place(
    recs: list[tuple[str, str, str]], fmt: str, which: int, bad: str
) -> None:
    assume(
        bad not in IUPAC + IUPAC.lower()
        and not bad.isspace()
        and bad not in '>,\t"\x00'
        and bad.isprintable()
    )
    which %= len(recs)
    rid, seq, label = recs[which]
    recs = [
        *recs[:which],
        (rid, seq[: len(seq) // 2] + bad + seq[len(seq) // 2 :], label),
        *recs[which + 1 :],
    ]
    for d in _tempdir():
        path = write_records(d / f"bad.{fmt}", recs)
        exc = _read_all(path)
        assert isinstance(exc, DataError)
        _assert_user_error_naming(path, exc)
        place = f"record {which + 1} ({rid})" if records.is_fasta(path) else f"row {which + 1}"
        assert place in str(exc) and "invalid character" in str(exc)


@SETTINGS
@given(recs=_recs, fmt=st.sampled_from(FORMATS), which=st.integers(0, 29))
def test_an_empty_sequence_is_a_data_error(recs: list[tuple[str, str, str]], fmt: str, which: int) -> None:
    which %= len(recs)
    recs = [(r, "" if i == which else s, lab) for i, (r, s, lab) in enumerate(recs)]
    for d in _tempdir():
        path = write_records(d / f"empty.{fmt}", recs)
        exc = _read_all(path)
        assert isinstance(exc, DataError) and "empty" in str(exc)
        _assert_user_error_naming(path, exc)


@SETTINGS
@given(data=st.binary(max_size=600), fmt=st.sampled_from(FORMATS), gz=st.booleans())
def test_random_bytes_read_or_raise_a_named_user_error(data: bytes, fmt: str, gz: bool) -> None:
    for d in _tempdir():
        path = _write(d / f"random.{fmt}", gzip.compress(data) if gz else data)
        exc = _read_all(path)
        if exc is not None:
            _assert_user_error_naming(path, exc)


@SETTINGS
@given(recs=_recs, fmt=st.sampled_from(["fa.gz", "csv.gz", "tsv.bgz"]), cut=st.floats(0.0, 0.999))
def test_truncated_gzip_is_a_named_data_error(recs: list[tuple[str, str, str]], fmt: str, cut: float) -> None:
    for d in _tempdir():
        path = write_records(d / f"cut.{fmt}", recs)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * cut)])
        exc = _read_all(path)
        assert isinstance(exc, DataError)
        _assert_user_error_naming(path, exc)


# -- streaming ---------------------------------------------------------------------------------------------
def _big_file(path: Path, n: int) -> int:
    """``n`` records of 2,000 bp (FASTA in two lines per record, or a TSV); returns the uncompressed size."""
    rng = random.Random(0)
    block = "".join(rng.choice("ACGT") for _ in range(2000))
    raw = io.StringIO()
    table = ".tsv" in path.name
    if table:
        raw.write("id\tsequence\n")
    for i in range(n):
        seq = block[i % 100 :] + block[: i % 100]
        raw.write(f"r{i}\t{seq}\n" if table else f">r{i}\n{seq[:1000]}\n{seq[1000:]}\n")
    text = raw.getvalue().encode()
    path.write_bytes(gzip.compress(text, compresslevel=1) if path.name.endswith(".gz") else text)
    return len(text)


def _peak(path: Path, unique: bool) -> tuple[int, int]:
    tracemalloc.start()
    n = bases = 0
    for chunk in iter_chunks(path, 100, unique=unique):
        n += len(chunk)
        bases += sum(len(r.sequence) for r in chunk)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert bases == 2000 * n
    return n, peak


@pytest.mark.parametrize("fmt", ["fa", "fa.gz", "tsv"])
def test_streaming_keeps_memory_flat_and_far_below_the_file_size(tmp: Path, fmt: str) -> None:
    """Chunks are read and dropped: twice the records need no more memory (the id set, kept for the uniqueness
    check, is the only part that grows), and the whole read stays far below the file size."""
    small, large = tmp / f"small.{fmt}", tmp / f"large.{fmt}"
    _big_file(small, 3000)
    size = _big_file(large, 6000)  # 12 MB of text
    (n_small, flat_small), (n_large, flat_large) = _peak(small, False), _peak(large, False)
    assert (n_small, n_large) == (3000, 6000)
    assert flat_large < 1.3 * flat_small, (flat_small, flat_large)
    assert _peak(large, True)[1] < size / 5


def test_record_is_the_public_type() -> None:
    assert Record("a", "ACGT") == Record("a", "ACGT", None, {}, 0)
