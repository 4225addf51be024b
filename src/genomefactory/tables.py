"""Reading delimited tables of user files for :mod:`genomefactory.records`: the header, the columns a reader
needs, and pandas' chunked parser with its failures turned into one-line :class:`DataError` messages naming the
file (data rows are counted from 1, the header excluded)."""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd

from .errors import DataError, UserError

__all__ = ["check_columns", "parsed", "read_header", "table_chunks"]

SEQUENCE_COLUMNS = ("sequence", "seq")


def read_header(fh: IO[str], p: Path, sep: str) -> list[str]:
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


def check_columns(
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


def table_chunks(fh: IO[str], p: Path, options: dict[str, Any]) -> Iterator[pd.DataFrame]:
    reader = parsed(p, lambda: pd.read_csv(fh, **options))  # the first rows are parsed here already
    while (df := parsed(p, lambda: next(reader, None))) is not None:
        yield df


def parsed(p: Path, step: Callable[[], Any]) -> Any:
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
    return (
        "TSV" if p.name.lower().removesuffix(".gz").removesuffix(".bgz").endswith((".tsv", ".tab")) else "CSV"
    )
