"""Embedding files: resumable chunked writing and reading back, in Parquet, ``.npy`` + index CSV, or CSV.

Layouts (one row per sequence; ``embedding`` is float32):
- Parquet: columns ``id, length, n_windows, n_tokens, [sequence], <metadata...>, embedding`` where ``embedding`` is
  a fixed-size list (pooled, shape (hidden,)) or a list of fixed-size lists (per-token, shape (tokens, hidden)).
  File metadata key ``genomefactory`` holds a JSON description (model, layer, pooling, windowing).
- ``.npy``: a (sequences, hidden) float32 matrix plus ``<stem>.index.csv`` with the other columns, same row order;
  pooled embeddings only.
- CSV: the other columns then ``e0 .. e{hidden-1}``; per-token embeddings get one row per token and a
  ``token_index`` column (the layout ``sae_regression`` reads, as in the paper's appendix E.5).

Writing goes through ``<output>.parts/part-NNNNN.parquet`` (each part written atomically); ``finalize`` merges the
parts (and a previous final file, when resuming) into the output atomically, streaming one part at a time.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import DataError, UserFileNotFoundError
from ..io import atomic_path

__all__ = ["EMBEDDING_SUFFIXES", "EmbeddingTable", "PartStore", "read_embeddings", "rows_to_table"]

_META_KEY = b"genomefactory"
EMBEDDING_SUFFIXES = (".parquet", ".npy", ".csv")  # the output formats ``finalize`` writes


def rows_to_table(
    frame: pd.DataFrame, vectors: list[np.ndarray], hidden: int, per_token: bool, info: dict[str, Any]
) -> pa.Table:
    """Arrow table of one chunk: ``frame``'s columns plus the ``embedding`` column."""
    flat = pa.array(np.concatenate([v.reshape(-1) for v in vectors]).astype(np.float32), type=pa.float32())
    if per_token:
        inner = pa.FixedSizeListArray.from_arrays(flat, hidden)
        offsets = np.concatenate([[0], np.cumsum([v.shape[0] for v in vectors])]).astype(np.int32)
        emb: pa.Array = pa.ListArray.from_arrays(pa.array(offsets), inner)
    else:
        emb = pa.FixedSizeListArray.from_arrays(flat, hidden)
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False).append_column(
        "embedding", emb
    )
    return table.replace_schema_metadata({_META_KEY: json.dumps(info).encode()})


class PartStore:
    """Chunks of an embedding run under ``<output>.parts/``; knows which ids are already written."""

    def __init__(self, output: Path, keep_previous: bool = True) -> None:
        self.output = output
        # False (``resume: false``): a previous final output is replaced, never merged with the new rows
        self.keep_previous = keep_previous
        self.parts_dir = output.parent / f"{output.name}.parts"

    def parts(self) -> list[Path]:
        return sorted(self.parts_dir.glob("part-*.parquet")) if self.parts_dir.is_dir() else []

    def done_ids(self) -> set[str]:
        ids: set[str] = set()
        for p in self.parts():
            ids.update(pq.read_table(p, columns=["id"]).column("id").to_pylist())
        if self._previous():
            ids.update(str(i) for i in _final_ids(self.output))
        return ids

    def stored_info(self) -> dict[str, Any] | None:
        """The ``genomefactory`` metadata of what is already written (a part, else a final Parquet), if any."""
        sources = self.parts()[:1] or (
            [self.output] if self.output.suffix.lower() == ".parquet" and self._previous() else []
        )
        if not sources:
            return None
        meta = pq.read_schema(sources[0]).metadata or {}
        return dict(json.loads(meta[_META_KEY])) if _META_KEY in meta else None

    def write(self, table: pa.Table) -> Path:
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        n = len(self.parts())
        dest = self.parts_dir / f"part-{n:05d}.parquet"
        with atomic_path(dest, suffix=".parquet") as tmp:
            pq.write_table(table, tmp)
        return dest

    def reset(self) -> None:
        if self.parts_dir.is_dir():
            shutil.rmtree(self.parts_dir)

    def _previous(self) -> bool:
        return self.keep_previous and self.output.is_file()

    def _sources(self) -> Iterator[pa.Table]:
        if self._previous():
            yield from _iter_final(self.output)
        for p in self.parts():
            yield pq.read_table(p)

    def finalize(self) -> int:
        """Merge previous output + parts into the output (format from its suffix); returns the row count."""
        if not self.parts():
            return _count_final(self.output) if self._previous() else 0
        suffix = self.output.suffix.lower()
        with atomic_path(self.output, suffix=suffix) as tmp:
            if suffix == ".parquet":
                rows = _write_parquet(self._sources(), tmp)
            elif suffix == ".npy":
                rows = _write_npy(self._sources, tmp, _index_path(self.output))
            elif suffix == ".csv":
                rows = _write_csv(self._sources(), tmp)
            else:
                raise DataError(f"embedding output {self.output}: unknown suffix; use .parquet, .npy or .csv")
        self.reset()
        return rows


def _index_path(npy: Path) -> Path:
    return npy.with_name(npy.stem + ".index.csv")


def _write_parquet(tables: Iterator[pa.Table], dest: Path) -> int:
    writer: pq.ParquetWriter | None = None
    rows = 0
    for t in tables:
        if writer is None:
            writer = pq.ParquetWriter(str(dest), t.schema)
        writer.write_table(t.cast(writer.schema))
        rows += t.num_rows
    if writer is not None:
        writer.close()
    return rows


def _split(table: pa.Table) -> tuple[pd.DataFrame, pa.Array]:
    emb = table.column("embedding").combine_chunks()
    return table.drop(["embedding"]).to_pandas(), emb


def _write_npy(sources: Callable[[], Iterator[pa.Table]], dest: Path, index: Path) -> int:
    # two passes over the parts (sizes, then rows) keep one part in memory at a time
    total, hidden = 0, 0
    for t in sources():
        if pa.types.is_list(t.schema.field("embedding").type):
            raise DataError("per-token embeddings cannot be written as .npy; use a .parquet or .csv output")
        total, hidden = total + t.num_rows, t.schema.field("embedding").type.list_size
    tables = sources()
    mat = np.lib.format.open_memmap(dest, mode="w+", dtype=np.float32, shape=(total, hidden))
    row = 0
    with atomic_path(index, suffix=".csv") as tmp_index:
        for i, t in enumerate(tables):
            frame, emb = _split(t)
            mat[row : row + t.num_rows] = emb.flatten().to_numpy().reshape(-1, hidden)
            frame.to_csv(tmp_index, mode="w" if i == 0 else "a", header=i == 0, index=False)
            row += t.num_rows
        mat.flush()
        del mat
    return total


def _write_csv(tables: Iterator[pa.Table], dest: Path) -> int:
    rows = 0
    for i, t in enumerate(tables):
        frame, emb = _split(t)
        if pa.types.is_list(emb.type):
            lengths = np.diff(emb.offsets.to_numpy())
            values = emb.flatten()
            hidden = values.type.list_size
            mat = values.flatten().to_numpy().reshape(-1, hidden)
            frame = frame.loc[frame.index.repeat(lengths)].reset_index(drop=True)
            frame.insert(1, "token_index", np.concatenate([np.arange(n) for n in lengths]))
        else:
            hidden = emb.type.list_size
            mat = emb.flatten().to_numpy().reshape(-1, hidden)
        dims = pd.DataFrame(mat, columns=[f"e{j}" for j in range(hidden)])
        pd.concat([frame, dims], axis=1).to_csv(dest, mode="w" if i == 0 else "a", header=i == 0, index=False)
        rows += t.num_rows
    return rows


def _final_ids(path: Path) -> list[Any]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return list(pq.read_table(path, columns=["id"]).column("id").to_pylist())
    if suffix == ".npy":
        return list(pd.read_csv(_index_path(path), usecols=["id"], dtype={"id": str})["id"])
    return list(pd.read_csv(path, usecols=["id"], dtype={"id": str})["id"].unique())


def _count_final(path: Path) -> int:
    return len(_final_ids(path))


def _iter_final(path: Path) -> Iterator[pa.Table]:
    """A previous final output as Arrow tables (to merge new parts after it when resuming)."""
    if path.suffix.lower() == ".parquet":
        pf = pq.ParquetFile(path)
        for i in range(pf.num_row_groups):  # one row group at a time keeps memory bounded
            yield pf.read_row_group(i).replace_schema_metadata(pf.schema_arrow.metadata)
        return
    yield _table_from_embeddings(read_embeddings(path))


@dataclass
class EmbeddingTable:
    """Embeddings read back: ``frame`` (id and metadata columns, one row per sequence) and the vectors."""

    frame: pd.DataFrame
    vectors: np.ndarray | list[np.ndarray]  # (n, hidden) pooled, or one (tokens, hidden) array per sequence
    info: dict[str, Any]

    @property
    def per_token(self) -> bool:
        return isinstance(self.vectors, list)

    @property
    def hidden(self) -> int:
        v = self.vectors[0] if isinstance(self.vectors, list) else self.vectors
        return int(v.shape[-1])


def _table_from_embeddings(e: EmbeddingTable) -> pa.Table:
    vecs = list(e.vectors) if isinstance(e.vectors, list) else [row for row in e.vectors]
    return rows_to_table(e.frame, vecs, e.hidden, e.per_token, e.info)


def read_embeddings(path: str | Path) -> EmbeddingTable:
    """Read an embedding file written by ``inference`` (mode: embed) in any of the three layouts."""
    p = Path(path)
    if not p.is_file():
        raise UserFileNotFoundError(
            f"embedding file {p} not found (write it with `genomefactory-cli inference`)"
        )
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        table = pq.read_table(p)
        if "embedding" not in table.column_names:
            raise DataError(f"{p} has no 'embedding' column; columns are {table.column_names}")
        meta = table.schema.metadata or {}
        info = json.loads(meta.get(_META_KEY, b"{}"))
        frame, emb = _split(table)
        if pa.types.is_list(emb.type):
            lengths = np.diff(emb.offsets.to_numpy())
            values = emb.flatten()
            mat = values.flatten().to_numpy().reshape(-1, values.type.list_size)
            parts = np.split(mat, np.cumsum(lengths)[:-1])
            return EmbeddingTable(frame, [np.asarray(x, dtype=np.float32) for x in parts], info)
        mat = emb.flatten().to_numpy().reshape(-1, emb.type.list_size).astype(np.float32)
        return EmbeddingTable(frame, mat, info)
    if suffix == ".npy":
        mat = np.load(p).astype(np.float32)
        index = _index_path(p)
        frame = (
            pd.read_csv(index, dtype={"id": str})
            if index.is_file()
            else pd.DataFrame({"id": [f"row{i}" for i in range(len(mat))]})
        )
        if len(frame) != len(mat):
            raise DataError(f"{index} has {len(frame)} rows but {p} has {len(mat)} embeddings")
        return EmbeddingTable(frame, mat, {})
    if suffix in (".csv", ".tsv"):
        return _read_csv(p)
    raise DataError(f"embedding file {p}: unknown suffix; expected .parquet, .npy or .csv")


def _read_csv(p: Path) -> EmbeddingTable:
    df = pd.read_csv(p, sep="\t" if p.suffix.lower() == ".tsv" else ",", dtype={"id": str})
    dims = [c for c in df.columns if isinstance(c, str) and c.startswith("e") and c[1:].isdigit()]
    if not dims:
        raise DataError(f"{p}: no embedding columns e0, e1, ... found; columns are {list(df.columns)[:10]}")
    dims.sort(key=lambda c: int(c[1:]))
    other = [c for c in df.columns if c not in dims]
    if "id" not in df.columns:
        df.insert(0, "id", [f"row{i}" for i in range(len(df))])
        other = ["id", *other]
    mat = df[dims].to_numpy(dtype=np.float32)
    if "token_index" not in df.columns:
        return EmbeddingTable(df[other].reset_index(drop=True), mat, {})
    ids = df["id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    frame = df.loc[starts, [c for c in other if c != "token_index"]].reset_index(drop=True)
    if frame["id"].duplicated().any():
        raise DataError(f"{p}: the rows of a sequence's tokens must be contiguous (id repeated apart)")
    return EmbeddingTable(frame, np.split(mat, starts[1:]), {})
