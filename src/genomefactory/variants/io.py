"""Reading variants: VCF/BCF through ``pysam`` (htslib), TSV through ``pandas``.

Both give :class:`~genomefactory.variants.records.Variant` objects, one per ALT allele, in input order, grouped in
chunks of whole records. Positions stay as written (1-based); alleles are upper-cased. Problems of one record
(symbolic or missing ALT, bad characters, a position that is not a number) become that record's status; a file
that cannot be read as a whole (not a VCF, missing columns, a line htslib cannot parse) is one
:class:`VariantInputError` raised by :meth:`VariantSource.validate` before any scoring starts.

TSV layout: a header line with the columns ``chrom, pos, ref, alt`` (names matched case-insensitively, a leading
``#`` ignored), optionally ``id`` and a label column; ``alt`` may list several alleles separated by commas.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import DataError, UserFileNotFoundError
from .records import Variant, allele_status

__all__ = ["TsvSource", "VariantInputError", "VariantSource", "VcfSource", "open_variants"]

_VCF_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz", ".bcf")
_TSV_SUFFIXES = (".tsv", ".tsv.gz", ".txt", ".txt.gz", ".tab")
_REQUIRED = ("chrom", "pos", "ref", "alt")


class VariantInputError(DataError):
    """The variant file cannot be read (format, columns, an unparseable record)."""


class VariantSource:
    """A variant file: ``validate()`` once (cheap pass over the file), then ``chunks()`` to stream it."""

    kind = "?"

    def __init__(self, path: Path, label: str | None) -> None:
        self.path = path
        self.label = label
        self.records = 0  # number of input records, known after validate()

    @property
    def bgzipped(self) -> bool:
        with open(self.path, "rb") as fh:
            head = fh.read(4)
        return head[:2] == b"\x1f\x8b"

    def validate(self) -> int:
        raise NotImplementedError

    def chunks(self, chunk_size: int) -> Iterator[list[Variant]]:
        raise NotImplementedError


def _split(record: int, chrom: str, pos: int, ref: str, alts: list[str | None], **kw: Any) -> list[Variant]:
    out = []
    for k, alt in enumerate(alts, start=1):
        a = alt.upper() if alt else alt
        status = allele_status(ref, a) if pos >= 1 else "invalid_position"
        out.append(Variant(record, k, chrom, pos, ref, a or ".", status=status, **kw))
    return out


class VcfSource(VariantSource):
    """VCF or BCF (plain or bgzipped), read with ``pysam.VariantFile``."""

    kind = "vcf"

    def _open(self) -> Any:
        import pysam

        # htslib prints warnings (a missing index, contigs absent from the header) on stderr for every open;
        # problems that matter here surface as exceptions or per-record statuses instead
        pysam.set_verbosity(0)
        try:
            return pysam.VariantFile(str(self.path))
        except (ValueError, OSError) as exc:
            raise VariantInputError(
                f"input {self.path}: not a readable VCF/BCF file ({exc}); a VCF starts with '##fileformat=VCF' "
                "and a '#CHROM POS ID REF ALT ...' header line (or use a TSV with columns chrom,pos,ref,alt)"
            ) from None

    def validate(self) -> int:
        vcf = self._open()
        self.declared_contigs = set(vcf.header.contigs)
        if self.label is not None and self.label not in vcf.header.info:
            raise VariantInputError(
                f"input {self.path}: evaluate.label_info {self.label!r} is not an INFO key of the header "
                f"(INFO keys: {', '.join(vcf.header.info) or 'none'})"
            )
        n = 0
        try:
            for _ in vcf:
                n += 1
        except (ValueError, OSError) as exc:
            raise VariantInputError(
                f"input {self.path}: data line {n + 1} (after {n} readable records) cannot be parsed ({exc}); "
                "fix or remove it (e.g. check the POS column is a number and columns are tab-separated)"
            ) from None
        finally:
            vcf.close()
        self.records = n
        return n

    def _label(self, rec: Any, k: int, n_alts: int) -> str | None:
        if self.label is None or self.label not in rec.info:
            return None
        value = rec.info[self.label]
        if isinstance(value, tuple):
            value = value[k] if len(value) == n_alts else value[0] if value else None
        return None if value is None else str(value)

    def chunks(self, chunk_size: int) -> Iterator[list[Variant]]:
        vcf = self._open()
        chunk: list[Variant] = []
        try:
            for i, rec in enumerate(vcf):
                alts: list[str | None] = list(rec.alts) if rec.alts else [None]
                ref = (rec.ref or "").upper()
                for v in _split(i, rec.chrom, rec.pos, ref, alts, id=rec.id):
                    v.label = self._label(rec, v.allele - 1, len(alts))
                    chunk.append(v)
                if (i + 1) % chunk_size == 0:
                    yield chunk
                    chunk = []
        finally:
            vcf.close()
        if chunk:
            yield chunk


class TsvSource(VariantSource):
    """A tab-separated table with columns chrom, pos, ref, alt (pos 1-based)."""

    kind = "tsv"

    def _read(self, **kw: Any) -> Any:
        import pandas as pd

        try:
            return pd.read_csv(self.path, sep="\t", dtype=str, keep_default_na=False, **kw)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            raise VariantInputError(
                f"input {self.path}: not a readable tab-separated table ({exc})"
            ) from None

    def _columns(self, names: list[str]) -> dict[str, str]:
        norm = {str(c).strip().lstrip("#").strip().lower(): str(c) for c in names}
        missing = [c for c in _REQUIRED if c not in norm]
        if missing:
            raise VariantInputError(
                f"input {self.path}: missing column(s) {', '.join(missing)}; a variant TSV needs a header with "
                f"chrom, pos, ref, alt (tab-separated); found columns: {', '.join(map(str, names))}"
            )
        cols = {c: norm[c] for c in (*_REQUIRED, "id") if c in norm}
        if self.label is not None:
            if self.label not in names and self.label.lower() not in norm:
                raise VariantInputError(
                    f"input {self.path}: evaluate.label_column {self.label!r} is not a column "
                    f"(columns: {', '.join(map(str, names))})"
                )
            cols["label"] = self.label if self.label in names else norm[self.label.lower()]
        return cols

    def validate(self) -> int:
        head = self._read(nrows=0)
        self.cols = self._columns(list(head.columns))
        n = 0
        for df in self._read(chunksize=100_000, usecols=list(self.cols.values())):
            n += len(df)
        self.records = n
        return n

    def chunks(self, chunk_size: int) -> Iterator[list[Variant]]:
        cols = getattr(self, "cols", None) or self._columns(list(self._read(nrows=0).columns))
        row = 0
        for df in self._read(chunksize=chunk_size, usecols=list(cols.values())):
            out: list[Variant] = []
            for rec in df.to_dict("records"):
                pos_text = str(rec[cols["pos"]]).strip()
                pos = int(pos_text) if pos_text.isdigit() else 0
                ref = str(rec[cols["ref"]]).strip().upper()
                alts: list[str | None] = [a.strip() for a in str(rec[cols["alt"]]).split(",")]
                rid = str(rec[cols["id"]]) if "id" in cols and rec[cols["id"]] not in ("", ".") else None
                label = str(rec[cols["label"]]).strip() if "label" in cols else None
                chrom = str(rec[cols["chrom"]]).strip()
                out.extend(_split(row, chrom, pos, ref, alts, id=rid, label=label or None))
                row += 1
            yield out


def open_variants(
    path: str | Path, label_column: str | None = None, label_info: str | None = None
) -> VariantSource:
    """A reader for ``path`` chosen by its suffix (VCF/BCF or TSV)."""
    p = Path(path)
    if not str(path) or not p.is_file():
        raise UserFileNotFoundError(f"input: variant file {str(path)!r} not found")
    name = p.name.lower()
    if name.endswith(_VCF_SUFFIXES):
        if label_column is not None:
            raise VariantInputError(
                "evaluate.label_column is for TSV input; a VCF's labels come from evaluate.label_info"
            )
        return VcfSource(p, label_info)
    if name.endswith(_TSV_SUFFIXES):
        if label_info is not None:
            raise VariantInputError(
                "evaluate.label_info is for VCF input; a TSV's labels come from evaluate.label_column"
            )
        return TsvSource(p, label_column)
    raise VariantInputError(
        f"input {p}: unknown file type; use a VCF/BCF ({', '.join(_VCF_SUFFIXES)}) or a TSV "
        f"({', '.join(_TSV_SUFFIXES)}) with columns chrom, pos, ref, alt"
    )
