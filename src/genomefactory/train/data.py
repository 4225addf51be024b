"""Task data: read and validate the train/dev/test splits, tokenize, pad dynamically.

Layout (GUE's): a folder with ``train.csv``, ``dev.csv``, ``test.csv``, columns ``sequence,label`` (``seq`` is
accepted as the sequence column). Every split is read by :mod:`genomefactory.records`, so a split may be any
record file its suffix rule accepts: ``<split>.csv`` / ``.tsv`` / ``.tab`` with a sequence and a label column, or
``<split>.fasta`` (any FASTA suffix) with its labels in ``<split>.labels.csv`` (or ``.tsv`` / ``.tab``): columns
``id,label``, ids = the FASTA header's first word; each optionally gzipped. One file per split: two candidates
(``train.csv`` and ``train.fa``) are an error. Sequences are upper-cased; IUPAC codes are legal; anything else is
an error naming the file, row (1-based data row, header excluded) and character.

**Per-base tasks** (``task.type: per_base_classification | per_base_regression``): the same files, the label
column holds one label per base, comma-separated, in the orientation of the sequence as written (label i is
base i): integer classes 0..K-1, or real values; ``.`` (or an empty item, or ``nan`` for regression) marks a
base without a label, never in the loss or the metrics. The number of labels must equal the sequence length.
Optional columns ``chrom``, ``start`` (0-based), ``end`` (half-open) and ``strand`` (``+``/``-``, ``-`` = the
sequence is the reverse complement of the reference) say where a window lies; prediction writes bigWig tracks
from them (reference orientation). ``genomefactory-cli per_base_data`` writes this layout (TSV).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..errors import DataError
from ..io import open_input_text
from ..records import is_fasta, read_records, record_stem, table_separator
from .task_types import IGNORE_CLASS, is_per_base, is_regression

log = logging.getLogger("genomefactory.train")

SPLITS = ("train", "dev", "test")


@dataclass
class Split:
    name: str
    path: Path
    sequences: list[str]
    # int64 (classification) or float32 (regression); per-base tasks: an object array of one (length,) array
    # per sequence (int64 with IGNORE_CLASS, or float32 with NaN, for bases without a label)
    labels: np.ndarray
    coords: pd.DataFrame | None = None  # per-base tasks: chrom, start, end, strand of each row when given


def find_split(folder: Path, name: str) -> Path | None:
    """The one record file of split ``name`` in ``folder`` (``name.csv``, ``name.fa.gz`` ...), None if absent."""
    hits = sorted(f for f in folder.iterdir() if record_stem(f) == name and f.is_file())
    if len(hits) > 1:
        raise DataError(
            f"{folder}: {len(hits)} files for split '{name}' ({', '.join(h.name for h in hits)}); keep one"
        )
    return hits[0] if hits else None


def _label_table(fasta: Path, label_col: str) -> tuple[Path, pd.DataFrame]:
    """``<split>.labels.csv|tsv|tab`` beside a FASTA split: columns id,label as text, ids unique."""
    stem = record_stem(fasta)
    labels = find_split(fasta.parent, f"{stem}.labels")
    if labels is None:
        raise DataError(
            f"{fasta} needs a label table {stem}.labels.csv (or .tsv) with columns id,{label_col}"
        )
    with open_input_text(labels) as fh:
        try:
            table = pd.read_csv(fh, sep=table_separator(labels), dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"{labels} is not a readable label table: {exc}") from None
    for col in ("id", label_col):
        if col not in table.columns:
            raise DataError(f"{labels}: no column '{col}' (columns: {', '.join(map(str, table.columns))})")
    dup = table["id"][table["id"].duplicated()]
    if not dup.empty:
        row = int(dup.index[0]) + 1
        raise DataError(
            f"{labels} row {row}: id '{dup.iloc[0]}' appears more than once; each record needs one label"
        )
    return labels, table


def _labelled_fasta(fasta: Path, labels: Path, table: pd.DataFrame) -> Iterator[tuple[str, int]]:
    """(sequence, row of its label in the label table, 0-based) for every FASTA record."""
    row_of = {rec_id: i for i, rec_id in enumerate(table["id"])}
    for rec in read_records(fasta):
        if rec.id not in row_of:
            raise DataError(f"{fasta}: record '{rec.id}' has no label in {labels}")
        yield rec.sequence, row_of[rec.id]


def _fasta_split(fasta: Path, label_col: str, task_type: str) -> Split:
    labels, table = _label_table(fasta, label_col)
    if is_per_base(task_type):
        pairs = list(_labelled_fasta(fasta, labels, table))
        seqs = [s for s, _ in pairs]
        raw = table[label_col].to_numpy()
        tracks = _parse_base_labels(
            [raw[r] for _, r in pairs], seqs, labels, task_type, [r for _, r in pairs]
        )
        return Split(record_stem(fasta) or fasta.stem, fasta, seqs, tracks)
    # parsed in table order, so an error names the label table's own row
    values = _parse_labels(table[label_col].tolist(), labels, task_type)
    pairs = list(_labelled_fasta(fasta, labels, table))
    rows = np.asarray([r for _, r in pairs], dtype=np.int64)
    return Split(record_stem(fasta) or fasta.stem, fasta, [s for s, _ in pairs], values[rows])


def labelled_frame(path: Path, seq_col: str | None = None, label_col: str = "label") -> pd.DataFrame:
    """A split file as a frame with columns ``sequence`` (validated) and ``label`` (its text, unparsed)."""
    if is_fasta(path):
        labels, table = _label_table(path, label_col)
        pairs = list(_labelled_fasta(path, labels, table))
        raw = table[label_col].to_numpy()
        return pd.DataFrame({"sequence": [s for s, _ in pairs], "label": [raw[r] for _, r in pairs]})
    recs = list(read_records(path, sequence_column=seq_col, label_column=label_col))
    return pd.DataFrame({"sequence": [r.sequence for r in recs], "label": [r.label for r in recs]})


def read_split(path: Path, seq_col: str | None, label_col: str, task_type: str) -> Split:
    """One split from ``path`` (any record file); a missing ``<split>.csv`` is looked for in the other formats."""
    if not path.is_file():
        found = find_split(path.parent, record_stem(path) or path.stem) if path.parent.is_dir() else None
        if found is None:
            raise DataError(
                f"missing data file {path} (a task folder needs train.csv, dev.csv and test.csv, or "
                "<split>.fasta with <split>.labels.csv)"
            )
        path = found
    if is_fasta(path):
        return _fasta_split(path, label_col, task_type)
    recs = list(read_records(path, sequence_column=seq_col, label_column=label_col))
    name, seqs = record_stem(path) or path.stem, [r.sequence for r in recs]
    if is_per_base(task_type):
        rows = list(range(len(recs)))
        tracks = _parse_base_labels([r.label or "" for r in recs], seqs, path, task_type, rows)
        return Split(name, path, seqs, tracks, _coords(recs, path))
    labels = _parse_labels([r.label or "" for r in recs], path, task_type)
    return Split(name, path, seqs, labels)


_COORDS = ("chrom", "start", "end", "strand")


def _coords(recs: list[Any], path: Path) -> pd.DataFrame | None:
    """chrom/start/end/strand of each row when the table has chrom and start (strand default '+')."""
    if not recs or not {"chrom", "start"} <= set(recs[0].meta):
        return None
    frame = pd.DataFrame([{k: r.meta.get(k) for k in _COORDS} for r in recs])
    frame["strand"] = frame["strand"].fillna("+")
    for i, (start, strand) in enumerate(zip(frame["start"], frame["strand"], strict=True), start=1):
        if not isinstance(start, (int, np.integer)) or start < 0 or strand not in ("+", "-"):
            raise DataError(
                f"{path} row {i}: start {start!r} / strand {strand!r}: start must be a 0-based integer >= 0 "
                "and strand '+' or '-'"
            )
    frame["end"] = frame["start"] + np.asarray([len(r.sequence) for r in recs])
    return frame


def _parse_base_labels(
    raw: list[Any], seqs: list[str], path: Path, task_type: str, rows: list[int]
) -> np.ndarray:
    """One label array per sequence from comma-separated per-base labels (see the module docstring)."""
    regression = is_regression(task_type)
    out = np.empty(len(seqs), dtype=object)
    for k, (text, seq, row) in enumerate(zip(raw, seqs, rows, strict=True)):
        items = [x.strip() for x in str(text).split(",")]
        if len(items) != len(seq):
            raise DataError(
                f"{path} row {row + 1}: {len(items)} per-base labels for a sequence of {len(seq)} bases; give "
                "one comma-separated label per base ('.' for a base without a label)"
            )
        missing = {"", ".", "nan", "NaN", "NA"} if regression else {"", "."}
        try:
            values = [math.nan if x in missing else float(x) for x in items]
        except ValueError:
            bad = next(x for x in items if x not in missing and not _is_number(x))
            raise DataError(f"{path} row {row + 1}: per-base label {bad!r} is not a number") from None
        arr = np.asarray(values, dtype=np.float64)
        if regression:
            if np.isinf(arr).any():
                raise DataError(f"{path} row {row + 1}: an infinite per-base label; use '.' for no value")
            out[k] = arr.astype(np.float32)
            continue
        known = ~np.isnan(arr)
        if (arr[known] < 0).any() or (arr[known] != np.round(arr[known])).any():
            bad_i = int(np.flatnonzero(known & ((arr < 0) | (arr != np.round(arr))))[0])
            raise DataError(
                f"{path} row {row + 1} base {bad_i + 1}: label {items[bad_i]!r} is not a non-negative integer "
                "class; use task.type: per_base_regression for values"
            )
        out[k] = np.where(known, arr, IGNORE_CLASS).astype(np.int64)
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_labels(raw: list[str], path: Path, task_type: str) -> np.ndarray:
    values: list[float] = []
    for i, v in enumerate(raw, start=1):
        text = str(v).strip()
        try:
            x = float(text)
        except ValueError:
            raise DataError(f"{path} row {i}: label {v!r} is not a number") from None
        if math.isnan(x) or math.isinf(x):
            raise DataError(f"{path} row {i}: label {v!r} is NaN or infinite; fix or drop the row")
        if task_type == "classification" and (x != int(x) or x < 0):
            raise DataError(
                f"{path} row {i}: label {v!r} is not a non-negative integer class; "
                "use task.type: regression for continuous labels"
            )
        values.append(x)
    if task_type == "classification":
        return np.asarray(values, dtype=np.int64)
    return np.asarray(values, dtype=np.float32)


def load_task(
    folder: str | Path, seq_col: str | None, label_col: str, task_type: str, num_labels: int | None
) -> tuple[dict[str, Split], int]:
    """Read and validate the three splits; returns them and the number of labels (1 for regression)."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"data.path {root} is not a folder (expected train.csv, dev.csv, test.csv inside)")
    splits = {
        name: read_split(find_split(root, name) or root / f"{name}.csv", seq_col, label_col, task_type)
        for name in SPLITS
    }
    if is_regression(task_type):
        return splits, 1
    if is_per_base(task_type):
        return splits, _per_base_classes(splits, num_labels)
    n = num_labels if num_labels is not None else int(splits["train"].labels.max()) + 1
    n = max(n, 2)
    for sp in splits.values():
        bad = np.flatnonzero(sp.labels >= n)
        if bad.size:
            i = int(bad[0])
            raise DataError(
                f"{sp.path} row {i + 1}: label {int(sp.labels[i])} is out of range for {n} classes "
                f"(labels must be 0..{n - 1}; set task.num_labels if the training split lacks a class)"
            )
    return splits, n


def _per_base_classes(splits: dict[str, Split], num_labels: int | None) -> int:
    top = max((int(t.max()) for t in splits["train"].labels if t.size), default=0)
    n = max(num_labels if num_labels is not None else top + 1, 2)
    for sp in splits.values():
        for i, track in enumerate(sp.labels):
            bad = np.flatnonzero(track >= n)
            if bad.size:
                raise DataError(
                    f"{sp.path} row {i + 1} base {int(bad[0]) + 1}: class {int(track[bad[0]])} is out of range "
                    f"for {n} classes (set task.num_labels if the training split lacks a class)"
                )
    return n


class TokenizedDataset(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Pre-tokenized sequences + labels; items are dicts the collator pads."""

    def __init__(self, input_ids: list[list[int]], labels: np.ndarray) -> None:
        self.input_ids = input_ids
        self.labels = labels

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.input_ids[i], "labels": self.labels[i].item()}


def tokenize(
    tokenizer: Any, sequences: list[str], max_length: int, where: str
) -> tuple[list[list[int]], int]:
    """Token ids per sequence, truncated to ``max_length``; returns (ids, number of truncated rows)."""
    ids: list[list[int]] = tokenizer(sequences, add_special_tokens=True, truncation=False)["input_ids"]
    long_rows = [i for i, x in enumerate(ids) if len(x) > max_length]
    if long_rows:
        cut = tokenizer([sequences[i] for i in long_rows], truncation=True, max_length=max_length)[
            "input_ids"
        ]
        for i, x in zip(long_rows, cut, strict=True):
            ids[i] = x
        log.warning(
            "%s: %d of %d sequences truncated to %d tokens", where, len(long_rows), len(ids), max_length
        )
    return ids, len(long_rows)


class PadCollator:
    """Dynamic padding to the longest sequence of the batch, on the tokenizer's padding side."""

    def __init__(self, pad_id: int, padding_side: str, label_dtype: torch.dtype) -> None:
        self.pad_id = pad_id
        self.left = padding_side == "left"
        self.label_dtype = label_dtype

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(it["input_ids"]) for it in items)
        ids = torch.full((len(items), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(items), width), dtype=torch.long)
        for row, it in enumerate(items):
            x = torch.as_tensor(it["input_ids"], dtype=torch.long)
            sl = slice(width - len(x), width) if self.left else slice(0, len(x))
            ids[row, sl] = x
            mask[row, sl] = 1
        batch = {"input_ids": ids, "attention_mask": mask}
        if "labels" in items[0]:
            batch["labels"] = torch.tensor([it["labels"] for it in items], dtype=self.label_dtype)
        return batch
