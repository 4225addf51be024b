"""Helpers of the variant-scoring tests: configs, hand-made variants, a tiny fine-tuned run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genomefactory.config import deep_merge, validate_dict
from genomefactory.variants.config import VariantsConfig
from genomefactory.variants.records import Variant

OTHER = {"A": "C", "C": "G", "G": "T", "T": "A"}


def config(family: str | None = None, **over: Any) -> VariantsConfig:
    """A VariantsConfig for in-memory scoring (input/genome are placeholders unless given)."""
    data: dict[str, Any] = {"input": "unused.tsv", "genome": "unused.fa", "compute": {"progress": False}}
    if family is not None:
        data["model"] = {"family": family, "init": "tiny"}
    return validate_dict(VariantsConfig, deep_merge(data, over))


def snvs(seq: str, chrom: str, positions: list[int]) -> list[Variant]:
    """SNVs at 0-based ``positions`` of ``seq`` (REF from the sequence, ALT the next base of A->C->G->T->A)."""
    return [Variant(i, 1, chrom, p + 1, seq[p], OTHER[seq[p]]) for i, p in enumerate(positions)]


def write_tsv(path: Path, rows: list[tuple[Any, ...]], header: str = "chrom\tpos\tref\talt") -> Path:
    path.write_text(header + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path
