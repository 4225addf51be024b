"""Writing variant scores: resumable parts, then one output (Parquet / TSV / CSV rows, or the input VCF + INFO).

Rows (:data:`genomefactory.variants.scorer.ROW_COLUMNS`) are written chunk by chunk as
``<output>.parts/part-NNNNN[-rRRR].parquet`` (each part atomically, the run's settings in the Parquet metadata),
reusing the embedding store's part layout (:class:`genomefactory.infer.store.PartStore`); a rerun skips the
records the parts already hold. ``finalize`` merges the parts, sorted by (record, allele) so the output is in
input order whatever order ranks or resumed runs wrote them, writes the output atomically and removes the parts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..infer.store import PartStore
from ..io import atomic_path

__all__ = ["ROW_FORMATS", "VCF_FORMATS", "ScoreStore", "output_format", "read_scores"]

_META_KEY = b"genomefactory"
ROW_FORMATS = (".parquet", ".tsv", ".csv")
VCF_FORMATS = (".vcf", ".vcf.gz")


def output_format(path: Path) -> str:
    """``.parquet``, ``.tsv``, ``.csv``, ``.vcf`` or ``.vcf.gz`` (from the name), else ''."""
    name = path.name.lower()
    for suffix in (".vcf.gz", ".vcf", *ROW_FORMATS):
        if name.endswith(suffix):
            return suffix
    return ""


class ScoreStore(PartStore):
    """The parts of one variant-scoring output; knows which input records are already written."""

    def done_records(self) -> set[int]:
        done: set[int] = set()
        for p in self.parts():
            done.update(int(x) for x in pq.read_table(p, columns=["record"]).column("record").to_pylist())
        return done

    def write_rows(self, frame: pd.DataFrame, info: dict[str, Any], stem: str) -> Path:
        table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
        table = table.replace_schema_metadata({_META_KEY: json.dumps(info).encode()})
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        dest = self.parts_dir / f"{stem}.parquet"
        with atomic_path(dest, suffix=".parquet") as tmp:
            pq.write_table(table, tmp)
        return dest

    def read_rows(self) -> pd.DataFrame:
        """Every row of the parts, in input order (record, allele), each (record, allele, score) once."""
        parts = self.parts()
        if not parts:
            return pd.DataFrame()
        frame = pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)
        frame = frame.drop_duplicates(["record", "allele", "score"], keep="first")
        return frame.sort_values(["record", "allele"], kind="stable").reset_index(drop=True)

    def finalize_rows(self, frame: pd.DataFrame, fmt: str, info: dict[str, Any]) -> int:
        """Write ``frame`` as Parquet / TSV / CSV to the output, atomically; returns the row count."""
        with atomic_path(self.output, suffix=fmt) as tmp:
            if fmt == ".parquet":
                table = pa.Table.from_pandas(frame, preserve_index=False)
                pq.write_table(table.replace_schema_metadata({_META_KEY: json.dumps(info).encode()}), tmp)
            else:
                frame.to_csv(tmp, sep="\t" if fmt == ".tsv" else ",", index=False, na_rep="NA")
        return len(frame)


def read_scores(path: str | Path) -> pd.DataFrame:
    """Rows written by ``variants`` to a .parquet / .tsv / .csv output."""
    p = Path(path)
    fmt = output_format(p)
    if fmt == ".parquet":
        return pq.read_table(p).to_pandas()
    if fmt in (".tsv", ".csv"):
        return pd.read_csv(
            p, sep="\t" if fmt == ".tsv" else ",", dtype={"id": str, "label": str, "chrom": str}
        )
    raise ValueError(f"{p}: not a variant score table (.parquet, .tsv, .csv)")
