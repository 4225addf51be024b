"""Task data: read and validate ``train/dev/test.csv``, tokenize, pad dynamically.

Layout (GUE's): a folder with ``train.csv``, ``dev.csv``, ``test.csv``, columns ``sequence,label`` (``seq`` is
accepted as the sequence column). A split may instead be ``<split>.fasta`` (.fa/.fna, optionally gzipped) with its
labels in ``<split>.labels.csv`` (or ``.tsv``): columns ``id,label``, ids = the FASTA header's first word. Sequences are upper-cased; IUPAC codes are legal; anything else is an error
naming the file, row (1-based data row, header excluded) and character.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..errors import DataError
from ..sequence import SequenceError, clean_sequence, read_fasta

log = logging.getLogger("genomefactory.train")

SPLITS = ("train", "dev", "test")


@dataclass
class Split:
    name: str
    path: Path
    sequences: list[str]
    labels: np.ndarray  # int64 (classification) or float32 (regression)


def _sequence_column(df: pd.DataFrame, path: Path, wanted: str | None) -> str:
    if wanted is not None:
        if wanted not in df.columns:
            raise DataError(f"{path}: no column '{wanted}' (columns: {', '.join(map(str, df.columns))})")
        return wanted
    for col in ("sequence", "seq"):
        if col in df.columns:
            return col
    raise DataError(
        f"{path}: no sequence column; expected 'sequence' or 'seq' (columns: {', '.join(map(str, df.columns))}); "
        "set data.sequence_column"
    )


_FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz")


def _fasta_split(path: Path, label_col: str, task_type: str) -> Split | None:
    """``<split>.fasta`` (or .fa/.fna, optionally .gz) + ``<split>.labels.csv|tsv`` with columns id,label."""
    fasta = next(
        (path.with_name(path.stem + s) for s in _FASTA_SUFFIXES if path.with_name(path.stem + s).is_file()),
        None,
    )
    if fasta is None:
        return None
    labels = next(
        (
            path.with_name(f"{path.stem}.labels{s}")
            for s in (".csv", ".tsv")
            if path.with_name(f"{path.stem}.labels{s}").is_file()
        ),
        None,
    )
    if labels is None:
        raise DataError(
            f"{fasta} needs a label table {path.stem}.labels.csv (or .tsv) with columns id,{label_col}"
        )
    table = pd.read_csv(
        labels, sep="\t" if labels.suffix == ".tsv" else ",", dtype=str, keep_default_na=False
    )
    for col in ("id", label_col):
        if col not in table.columns:
            raise DataError(f"{labels}: no column '{col}' (columns: {', '.join(map(str, table.columns))})")
    dup = table["id"][table["id"].duplicated()]
    if not dup.empty:
        row = int(dup.index[0]) + 1
        raise DataError(
            f"{labels} row {row}: id '{dup.iloc[0]}' appears more than once; each record needs one label"
        )
    # parsed in table order, so an error names the label table's own row
    values = _parse_labels(table[label_col].tolist(), labels, task_type)
    row_of = {rec_id: i for i, rec_id in enumerate(table["id"])}
    seqs, rows = [], []
    try:
        for rec_id, seq in read_fasta(fasta):
            if rec_id not in row_of:
                raise DataError(f"{fasta}: record '{rec_id}' has no label in {labels}")
            seqs.append(seq)
            rows.append(row_of[rec_id])
    except SequenceError as exc:
        raise DataError(str(exc)) from None
    if not seqs:
        raise DataError(f"{fasta} has no records (empty split)")
    return Split(path.stem, fasta, seqs, values[np.asarray(rows, dtype=np.int64)])


def read_split(path: Path, seq_col: str | None, label_col: str, task_type: str) -> Split:
    if not path.is_file():
        from_fasta = _fasta_split(path, label_col, task_type)
        if from_fasta is not None:
            return from_fasta
        raise DataError(
            f"missing data file {path} (a task folder needs train.csv, dev.csv and test.csv, or "
            "<split>.fasta with <split>.labels.csv)"
        )
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV: {exc}") from exc
    if df.empty:
        raise DataError(f"{path} has no rows (empty split)")
    col = _sequence_column(df, path, seq_col)
    if label_col not in df.columns:
        raise DataError(f"{path}: no label column '{label_col}' (columns: {', '.join(map(str, df.columns))})")
    seqs: list[str] = []
    for i, s in enumerate(df[col].tolist(), start=1):
        try:
            seqs.append(clean_sequence(s, f"{path} row {i}"))
        except SequenceError as exc:
            raise DataError(str(exc)) from None
    raw = df[label_col].tolist()
    labels = _parse_labels(raw, path, task_type)
    return Split(path.stem, path, seqs, labels)


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
    splits = {name: read_split(root / f"{name}.csv", seq_col, label_col, task_type) for name in SPLITS}
    if task_type == "regression":
        return splits, 1
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
