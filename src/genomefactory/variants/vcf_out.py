"""The input VCF with the scores added as INFO fields (``pysam``; bgzipped and tabix-indexed for ``.vcf.gz``).

Every record of the input is written, in input order, unchanged except for these INFO keys (``P`` =
``info_prefix``, default ``GF_``), each ``Number=A`` (one value per ALT allele, ``.`` where not scored):

- ``P<OUTPUT>`` (Float): each score output, upper-cased (``GF_MASKED_MARGINAL``, ``GF_LOGLIK_SUM`` ...);
- ``PSTATUS`` (String): ``ok``, a status shared by all outputs (``ref_mismatch``), or ``output:status`` pairs
  joined by ``|`` when they differ (``masked_marginal:not_snv``);
- ``PCLIPPED`` (Integer): 1 when the allele's window was clipped at a contig end.

A record whose contig the header does not declare (htslib adds it on reading) is rebuilt field by field on the
output header (site fields, INFO, FORMAT/sample values), since htslib cannot translate it. The index is written
only when the records are sorted (contig blocks, non-decreasing positions); otherwise a warning says why not.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..io import atomic_path

__all__ = ["write_scored_vcf"]

log = logging.getLogger("genomefactory.variants")


def _annotations(rows: pd.DataFrame) -> dict[int, dict[int, dict[str, Any]]]:
    """record -> allele -> {output: value, 'status': str, 'clipped': int|None}."""
    out: dict[int, dict[int, dict[str, Any]]] = {}
    statuses: dict[tuple[int, int], list[tuple[str, str]]] = {}
    cols = ["record", "allele", "score", "value", "status", "clipped"]
    for rec_i, allele_i, score, value, status, clipped in rows[cols].itertuples(index=False, name=None):
        key = (int(rec_i), int(allele_i))
        slot = out.setdefault(key[0], {}).setdefault(key[1], {})
        v = float(value)
        slot[str(score)] = None if math.isnan(v) else v
        if not pd.isna(clipped):
            slot["clipped"] = int(bool(clipped))
        statuses.setdefault(key, []).append((str(score), str(status)))
    for (rec, allele), pairs in statuses.items():
        kinds = {s for _, s in pairs}
        text = next(iter(kinds)) if len(kinds) == 1 else "|".join(f"{o}:{s}" for o, s in pairs if s != "ok")
        out[rec][allele]["status"] = text
    return out


def _header(src: Any, outputs: list[str], prefix: str, descriptions: dict[str, str]) -> Any:
    header = src.header.copy()
    fields = [(f"{prefix}{o.upper()}", "Float", descriptions.get(o, o)) for o in outputs]
    fields += [
        (f"{prefix}STATUS", "String", "genomefactory variants: ok, or why the allele was not scored"),
        (
            f"{prefix}CLIPPED",
            "Integer",
            "genomefactory variants: 1 if the scoring window was clipped at a contig end",
        ),
    ]
    for key, typ, text in fields:
        if key in header.info:
            header.info.remove_header(key)
        header.info.add(key, "A", typ, text)
    return header


def _rebuild(out: Any, rec: Any) -> Any:
    """A copy of ``rec`` on the output header (for records htslib cannot translate)."""
    new = out.new_record(
        contig=rec.contig,
        start=rec.start,
        stop=rec.stop,
        alleles=rec.alleles,
        id=rec.id,
        qual=rec.qual,
        filter=list(rec.filter.keys()),
        info=dict(rec.info),
    )
    for name in rec.samples:
        sample = rec.samples[name]
        for key, value in sample.items():
            new.samples[name][key] = value
        new.samples[name].phased = sample.phased
    return new


def _fill(rec: Any, ann: dict[int, dict[str, Any]], outputs: list[str], prefix: str) -> None:
    n = len(rec.alts or ())
    if n == 0:
        return
    for o in outputs:
        values = tuple(ann.get(k, {}).get(o) for k in range(1, n + 1))
        if any(v is not None for v in values):
            rec.info[f"{prefix}{o.upper()}"] = values
    rec.info[f"{prefix}STATUS"] = tuple(
        str(ann.get(k, {}).get("status", "not_scored")) for k in range(1, n + 1)
    )
    clipped = tuple(ann.get(k, {}).get("clipped") for k in range(1, n + 1))
    if any(c is not None for c in clipped):
        rec.info[f"{prefix}CLIPPED"] = clipped


def write_scored_vcf(
    source: Path,
    rows: pd.DataFrame,
    dest: Path,
    outputs: list[str],
    prefix: str,
    descriptions: dict[str, str],
) -> bool:
    """Write ``dest`` (bgzipped + indexed when it ends in .vcf.gz); returns whether an index was written."""
    import pysam

    pysam.set_verbosity(0)  # htslib's warnings about the input were handled when it was read
    src = pysam.VariantFile(str(source))
    declared = set(src.header.contigs)
    for _ in src:  # one pass so the header holds every contig the records use
        pass
    header = _header(src, outputs, prefix, descriptions)
    src.close()
    ann = _annotations(rows)
    bgzip = dest.name.lower().endswith(".gz")
    sorted_ok, seen, last = True, [], ("", -1)
    with atomic_path(dest, suffix=".vcf.gz" if bgzip else ".vcf") as tmp:
        src = pysam.VariantFile(str(source))
        out = pysam.VariantFile(str(tmp), "wz" if bgzip else "w", header=header)
        for i, rec in enumerate(src):
            if rec.contig in declared:
                rec.translate(out.header)
            else:
                rec = _rebuild(out, rec)
            _fill(rec, ann.get(i, {}), outputs, prefix)
            out.write(rec)
            if rec.contig != last[0]:
                sorted_ok = sorted_ok and rec.contig not in seen
                seen.append(rec.contig)
            elif rec.pos < last[1]:
                sorted_ok = False
            last = (rec.contig, rec.pos)
        out.close()
        src.close()
        indexed = bgzip and sorted_ok
        if indexed:
            pysam.tabix_index(str(tmp), preset="vcf", force=True, index=f"{tmp}.tbi")
    if indexed:
        os.replace(f"{tmp}.tbi", f"{dest}.tbi")
        return True
    Path(f"{dest}.tbi").unlink(missing_ok=True)  # an index of an earlier output would not match this one
    if bgzip:
        log.warning(
            "%s: records are not sorted by contig and position; written bgzipped but not indexed", dest
        )
    return indexed
