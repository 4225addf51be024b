"""The one reader of sequence records: FASTA and CSV/TSV tables, plain or gzipped, streamed.

Every command that reads sequences (train, predict, embed, the benchmark suites, SAE data files) reads them
here, so one file means the same records everywhere.

**Format rule (the file name decides).** The name, case-insensitive, minus one compression suffix ``.gz`` or
``.bgz``, ends in

- a FASTA suffix :data:`FASTA_SUFFIXES` (``.fa .fasta .fna .fas .ffn .fsa``), or
- a table suffix :data:`TABLE_SUFFIXES`: ``.csv`` (comma-separated), ``.tsv`` or ``.tab`` (tab-separated).

Anything else is an error listing these suffixes. **Compression is decided by the content**, not the name: gzip
(and bgzip) data is decompressed whatever the suffix (a gzipped ``reads.fasta`` reads like ``reads.fasta.gz``),
and a ``.gz`` file that holds plain text is read as plain text. bzip2, xz, zstd and zip data are refused with a
message saying to decompress them. Text is UTF-8 (a byte-order mark is ignored).

**Id rule.** FASTA: the first whitespace-separated word of the header (``>chr1 Homo sapiens`` -> ``chr1``); a
header without a name is an error. Table: the ``id`` column (``id_column``) when the table has it, else
``row<N>`` with N the 1-based data row (the header and blank lines are not counted), the same N error messages
name. Ids are unique within a file: a repeat is an error naming both places.

**Sequences** pass :func:`genomefactory.sequence.clean_sequence`: stripped, upper-cased, IUPAC only; FASTA
sequence lines are concatenated. An empty sequence is an error. **Tables**: the sequence column is
``sequence_column`` or else ``sequence``, else ``seq``; ``label_column`` (optional) is returned as its raw text
(callers parse it and word their own errors); every other column goes into :attr:`Record.meta` with pandas'
type inference and its default missing-value markers (parsed per chunk). FASTA records have no label or meta.

**Streaming.** :func:`read_records` and :func:`iter_chunks` read the file incrementally (tables in pandas chunks,
FASTA line by line): memory holds one chunk of records plus the set of ids seen for the uniqueness check (about
100 bytes per record; ``unique=False`` drops it), never the file. :func:`read_frame` collects everything into one frame, for callers that need it all anyway.

**Errors.** Every bad input raises a :class:`~genomefactory.errors.UserError` naming the file:
:class:`~genomefactory.errors.UserFileNotFoundError` for a missing file, :class:`~genomefactory.errors.DataError`
for the rest (empty file, header-only table, FASTA without records, data before the first header, missing
column, bad character, binary or non-UTF-8 bytes, damaged or truncated compressed data). Places are named
``<file> row <N>`` (tables) or ``<file> record <N> (<id>)`` (FASTA, N 1-based).
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import pandas as pd

from .errors import DataError, UserError
from .io import input_file, open_input_text
from .sequence import clean_sequence

__all__ = [
    "COMPRESSION_SUFFIXES",
    "FASTA_SUFFIXES",
    "SEQUENCE_COLUMNS",
    "TABLE_SUFFIXES",
    "Record",
    "is_fasta",
    "is_table",
    "iter_chunks",
    "read_fasta",
    "read_fasta_records",
    "read_frame",
    "read_records",
    "record_stem",
    "table_separator",
]

FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas", ".ffn", ".fsa")
TABLE_SUFFIXES: dict[str, str] = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
COMPRESSION_SUFFIXES = (".gz", ".bgz")
SEQUENCE_COLUMNS = ("sequence", "seq")
DEFAULT_CHUNK = 4096

# pandas' default missing-value markers, applied to metadata columns only: a sequence "NA" or an id "null"
# must stay text
_NA_MARKERS = [
    *("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"),
    *("<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"),
]


@dataclass(frozen=True)
class Record:
    """One sequence record; ``row`` is its 1-based place in the file (table data row, or FASTA record number)."""

    id: str
    sequence: str
    label: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    row: int = 0


# -- suffix rule -------------------------------------------------------------------------------------------
def _split_name(path: str | Path) -> tuple[str, str]:
    """(name without compression and format suffix, format suffix) of a file name, lower-cased suffix."""
    name = Path(path).name
    for comp in COMPRESSION_SUFFIXES:
        if name.lower().endswith(comp):
            name = name[: -len(comp)]
            break
    suffix = Path(name).suffix
    return name[: len(name) - len(suffix)], suffix.lower()


def is_fasta(path: str | Path) -> bool:
    """Whether the suffix rule reads ``path`` as FASTA."""
    return _split_name(path)[1] in FASTA_SUFFIXES


def is_table(path: str | Path) -> bool:
    """Whether the suffix rule reads ``path`` as a CSV/TSV table."""
    return _split_name(path)[1] in TABLE_SUFFIXES


def record_stem(path: str | Path) -> str | None:
    """The file name without its record suffixes (``train.fa.gz`` -> ``train``); None for other files."""
    stem, suffix = _split_name(path)
    return stem if suffix in FASTA_SUFFIXES or suffix in TABLE_SUFFIXES else None


def table_separator(path: str | Path) -> str:
    """The field separator of a table file (``,`` or tab); DataError for a name that is not a table."""
    suffix = _split_name(path)[1]
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"{path}: not a table file name (table suffixes: {', '.join(TABLE_SUFFIXES)})")
    return TABLE_SUFFIXES[suffix]


def _check_format(p: Path) -> None:
    if not (is_fasta(p) or is_table(p)):
        raise DataError(
            f"{p}: cannot tell the format from the file name; name it with a FASTA suffix "
            f"({' '.join(FASTA_SUFFIXES)}) or a table suffix ({' '.join(TABLE_SUFFIXES)}), "
            f"optionally followed by {' or '.join(COMPRESSION_SUFFIXES)}"
        )


# -- public readers ----------------------------------------------------------------------------------------
def iter_chunks(
    path: str | Path,
    chunk_size: int = DEFAULT_CHUNK,
    *,
    sequence_column: str | None = None,
    id_column: str = "id",
    label_column: str | None = None,
    unique: bool = True,
    what: str | None = None,
) -> Iterator[list[Record]]:
    """Lists of at most ``chunk_size`` records, in file order (see the module docstring for the rules).

    ``what`` (e.g. ``"embed.input"``) prefixes the missing-file message. The file's existence, format, first
    bytes and (tables) header columns are checked when this is called; records are read as the iterator is
    consumed.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    p = input_file(path, what)
    _check_format(p)
    if is_fasta(p) and label_column is not None:
        raise DataError(
            f"{p}: a FASTA file has no label column {label_column!r}; "
            "put the labels in a table with an id column, or use a CSV/TSV with a label column"
        )
    # checked now, before the caller starts expensive work: the file opens as text (not empty, binary or
    # refused compression) and a table's header names the columns asked for
    with open_input_text(p) as fh:
        if is_table(p):
            _columns(_header(fh, p, table_separator(p)), p, sequence_column, id_column, label_column)
    if is_fasta(p):
        return _fasta_chunks(p, chunk_size, unique)
    return _table_chunks(p, chunk_size, sequence_column, id_column, label_column, unique)


def read_records(
    path: str | Path,
    *,
    sequence_column: str | None = None,
    id_column: str = "id",
    label_column: str | None = None,
    unique: bool = True,
    what: str | None = None,
) -> Iterator[Record]:
    """Records one at a time, in file order; the arguments are those of :func:`iter_chunks`."""
    chunks = iter_chunks(
        path,
        DEFAULT_CHUNK,
        sequence_column=sequence_column,
        id_column=id_column,
        label_column=label_column,
        unique=unique,
        what=what,
    )
    return (rec for chunk in chunks for rec in chunk)


def read_frame(
    path: str | Path,
    *,
    sequence_column: str | None = None,
    id_column: str = "id",
    label_column: str | None = None,
    what: str | None = None,
) -> pd.DataFrame:
    """All records as one frame: ``id``, ``sequence``, ``label`` (when asked for), then the metadata columns."""
    cols: dict[str, list[Any]] = {"id": [], "sequence": []}
    if label_column is not None:
        cols["label"] = []
    metas: list[dict[str, Any]] = []
    for rec in read_records(
        path, sequence_column=sequence_column, id_column=id_column, label_column=label_column, what=what
    ):
        cols["id"].append(rec.id)
        cols["sequence"].append(rec.sequence)
        if label_column is not None:
            cols["label"].append(rec.label)
        metas.append(rec.meta)
    frame = pd.DataFrame(cols)
    if metas and metas[0]:
        meta = pd.DataFrame(metas)
        frame = pd.concat([frame, meta.drop(columns=[c for c in meta if c in frame])], axis=1)
    return frame


def read_fasta_records(path: str | Path, *, unique: bool = True, what: str | None = None) -> Iterator[Record]:
    """Records of a file the caller knows is FASTA, whatever its name (e.g. a prompt file): no suffix rule."""
    p = input_file(path, what)
    return (rec for chunk in _fasta_chunks(p, DEFAULT_CHUNK, unique) for rec in chunk)


def read_fasta(path: str | Path) -> Iterator[tuple[str, str]]:
    """``(id, sequence)`` pairs of a FASTA file (any name); repeated ids are allowed (prompt files, genomes).

    Ids are the first header word; sequences are upper-cased and validated.
    """
    return ((r.id, r.sequence) for r in read_fasta_records(path, unique=False))


# -- FASTA -------------------------------------------------------------------------------------------------
def _fasta_chunks(p: Path, chunk_size: int, unique: bool) -> Iterator[list[Record]]:
    seen: set[str] = set()
    chunk: list[Record] = []
    for rec in _fasta_records(p):
        if unique:
            _check_unique(rec, seen, p, "record", None)
        chunk.append(rec)
        if len(chunk) == chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _fasta_records(p: Path) -> Iterator[Record]:
    name: str | None = None
    lines: list[str] = []
    n = 0
    with open_input_text(p) as fh:
        for line_no, line in enumerate(fh, start=1):
            if line.startswith(">"):
                if name is not None:
                    yield Record(name, clean_sequence("".join(lines), f"{p} record {n} ({name})"), row=n)
                n += 1
                words = line[1:].split(maxsplit=1)
                if not words:
                    raise DataError(
                        f"{p} line {line_no}: record {n} has an empty header; write a name after '>'"
                    )
                name, lines = words[0], []
            elif text := line.strip():
                if name is None:
                    raise DataError(
                        f"{p} line {line_no}: sequence data before the first '>' header (is this a FASTA file?)"
                    )
                lines.append(text)
    if name is None:
        raise DataError(f"{p} has no FASTA records (no line starts with '>')")
    yield Record(name, clean_sequence("".join(lines), f"{p} record {n} ({name})"), row=n)


# -- tables ------------------------------------------------------------------------------------------------
def _header(fh: IO[str], p: Path, sep: str) -> list[str]:
    try:
        for cells in csv.reader(iter(fh.readline, ""), delimiter=sep):
            if cells:
                break
        else:
            raise DataError(f"{p} is empty (no header line)")
    except csv.Error as exc:
        raise DataError(f"{p}: cannot read the header line ({exc})") from None
    dup = sorted({c for c in cells if cells.count(c) > 1})
    if dup:
        raise DataError(f"{p}: column {dup[0]!r} appears more than once in the header ({', '.join(cells)})")
    return cells


def _columns(
    header: list[str], p: Path, sequence_column: str | None, id_column: str, label_column: str | None
) -> tuple[str, str | None]:
    """(sequence column, id column or None) after checking that every named column exists."""
    listing = ", ".join(header)
    if sequence_column is not None and sequence_column not in header:
        raise DataError(f"{p}: no sequence column {sequence_column!r} (columns: {listing})")
    seq = sequence_column or next((c for c in SEQUENCE_COLUMNS if c in header), None)
    if seq is None:
        raise DataError(
            f"{p}: no sequence column; expected 'sequence' or 'seq' (columns: {listing}); "
            "or name the column to read"
        )
    if label_column is not None and label_column not in header:
        raise DataError(f"{p}: no label column {label_column!r} (columns: {listing})")
    if id_column != "id" and id_column not in header:
        raise DataError(f"{p}: no id column {id_column!r} (columns: {listing})")
    return seq, id_column if id_column in header else None


def _table_chunks(
    p: Path,
    chunk_size: int,
    sequence_column: str | None,
    id_column: str,
    label_column: str | None,
    unique: bool,
) -> Iterator[list[Record]]:
    sep = table_separator(p)
    seen: set[str] = set()
    with open_input_text(p) as fh:
        header = _header(fh, p, sep)
        seq_col, id_col = _columns(header, p, sequence_column, id_column, label_column)
        keys = [c for c in (seq_col, id_col, label_column) if c is not None]
        meta_cols = [c for c in header if c not in keys]
        options: dict[str, Any] = dict(
            sep=sep,
            header=None,
            names=header,
            index_col=False,
            dtype=dict.fromkeys(keys, str),
            keep_default_na=False,
            na_values={c: _NA_MARKERS for c in meta_cols},
            chunksize=chunk_size,
        )
        row = 0
        for df in _pandas_chunks(fh, p, options):
            if df.empty:
                continue
            out = _chunk_records(df, p, row, seq_col, id_col, label_column, meta_cols)
            if unique:
                again = (sequence_column, id_column, None)
                for rec in out:
                    _check_unique(rec, seen, p, "row", again)
            row += len(df)
            yield out
    if row == 0:
        raise DataError(f"{p} has no rows (only a header: {', '.join(header)})")


def _pandas_chunks(fh: IO[str], p: Path, options: dict[str, Any]) -> Iterator[pd.DataFrame]:
    reader = _parsed(p, lambda: pd.read_csv(fh, **options))  # the first rows are parsed here already
    while (df := _parsed(p, lambda: next(reader, None))) is not None:
        yield df


def _parsed(p: Path, step: Callable[[], Any]) -> Any:
    """``step()`` with pandas' parse failures turned into one-line DataErrors naming the file."""
    with warnings.catch_warnings():
        # a first data row longer than the header is a warning in pandas (and the extra fields are dropped)
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return step()
        except UserError:
            raise
        except pd.errors.ParserWarning:
            raise DataError(
                f"{p}: a data row has more fields than the header; fix the row or the header"
            ) from None
        except (pd.errors.ParserError, csv.Error) as exc:
            # pandas counts lines from the first data line (the header was read before it)
            text = re.sub(r"\bline (\d+)", r"data row \1", str(exc).strip())
            raise DataError(f"{p}: not a well-formed {_kind(p)} table ({text})") from None


def _kind(p: Path) -> str:
    return "CSV" if table_separator(p) == "," else "TSV"


def _chunk_records(
    df: pd.DataFrame,
    p: Path,
    row: int,
    seq_col: str,
    id_col: str | None,
    label_col: str | None,
    meta_cols: list[str],
) -> list[Record]:
    seqs = df[seq_col].tolist()
    ids = df[id_col].tolist() if id_col else [f"row{row + i}" for i in range(1, len(df) + 1)]
    labels = df[label_col].tolist() if label_col else [None] * len(df)
    # header names are strings, so the records' keys are too
    metas = (
        cast(list[dict[str, Any]], df[meta_cols].to_dict("records"))
        if meta_cols
        else [{} for _ in range(len(df))]
    )
    out = []
    for i, (rid, seq, label, meta) in enumerate(zip(ids, seqs, labels, metas, strict=True), start=row + 1):
        rid = rid.strip()
        if not rid:
            raise DataError(f"{p} row {i}: empty id in column {id_col!r}; give every row an id")
        out.append(Record(rid, clean_sequence(seq, f"{p} row {i}"), label, meta, i))
    return out


# -- ids ---------------------------------------------------------------------------------------------------
def _check_unique(
    rec: Record, seen: set[str], p: Path, unit: str, columns: tuple[str | None, str, None] | None
) -> None:
    if rec.id not in seen:
        seen.add(rec.id)
        return
    # only the ids are kept while streaming; the first place is found again by reading the file up to here
    again = (
        _fasta_records(p)
        if columns is None
        else (r for chunk in _table_chunks(p, DEFAULT_CHUNK, *columns, False) for r in chunk)
    )
    first = next((r.row for r in again if r.id == rec.id), None)
    raise DataError(
        f"{p}: id {rec.id!r} occurs twice ({unit} {first} and {unit} {rec.row}); ids must be unique "
        "(outputs and resumed runs are keyed by them)"
    )
