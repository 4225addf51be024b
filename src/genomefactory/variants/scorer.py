"""Scoring a list of variants in memory: statuses, windows, every score, optional RC averaging -> rows.

One row per (variant allele, score output). Columns: ``record`` (0-based input record), ``allele`` (1-based ALT
index), ``chrom``, ``pos`` (1-based, as in the input), ``id``, ``ref``, ``alt``, ``label``, ``score`` (output name),
``value`` (the score; with ``rc_average`` the mean of ``value_fwd`` and ``value_rc``), ``value_fwd``, ``value_rc``,
``status`` (``ok`` or why the allele was not scored, see :mod:`genomefactory.variants.records`), the REF window
``window_start``/``window_end`` (0-based half-open, reference orientation), ``ref_window_len``,
``alt_window_len`` and ``clipped`` (the window was cut at a contig end).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .config import VariantsConfig
from .engine import ModelHandle
from .records import Variant
from .reference import Reference
from .scores import ScoreBlock, VariantScore
from .windows import AlleleWindow, WindowBuilder, check_site

__all__ = ["ROW_COLUMNS", "Scorer"]

ROW_COLUMNS = [
    "record",
    "allele",
    "chrom",
    "pos",
    "id",
    "ref",
    "alt",
    "label",
    "score",
    "value",
    "value_fwd",
    "value_rc",
    "status",
    "window_start",
    "window_end",
    "ref_window_len",
    "alt_window_len",
    "clipped",
]


@dataclass
class _Scored:
    """One score's results for the alleles of a chunk (index = position in the chunk)."""

    score: VariantScore
    outputs: list[str]
    windows: dict[int, AlleleWindow]
    fwd: ScoreBlock
    rc: ScoreBlock | None
    status: dict[int, str]


class Scorer:
    """Scores chunks of variants with one model; reusable across chunks."""

    def __init__(
        self, handle: ModelHandle, reference: Reference, scores: list[VariantScore], cfg: VariantsConfig
    ) -> None:
        self.handle, self.reference, self.scores, self.cfg = handle, reference, scores, cfg
        self.builder = WindowBuilder(reference, cfg.window.size, cfg.window.tile_bases)

    def outputs(self) -> list[str]:
        return [o for s in self.scores for o in s.outputs(self.handle, self.cfg)]

    def _run_score(self, score: VariantScore, variants: list[Variant], site: list[str]) -> _Scored:
        tile = 1 if score.centred else self.cfg.window.tile_bases
        windows: dict[int, AlleleWindow] = {}
        status: dict[int, str] = {}
        for i, v in enumerate(variants):
            if site[i] != "ok":
                continue
            w = self.builder.build(v, tile)
            if w is None:
                status[i] = "invalid_reference"
            else:
                windows[i] = w
        order = list(windows)
        items = [windows[i] for i in order]
        fwd = score.compute(self.handle, items, self.cfg)
        rc = (
            score.compute(self.handle, [w.reverse_complement() for w in items], self.cfg)
            if self.cfg.rc_average
            else None
        )
        for k, i in enumerate(order):
            st = fwd.status[k] if fwd.status[k] != "ok" else (rc.status[k] if rc is not None else "ok")
            status[i] = st
        # re-index the blocks by chunk position
        outputs = score.outputs(self.handle, self.cfg)
        full_fwd = ScoreBlock.empty(outputs, len(variants))
        full_rc = ScoreBlock.empty(outputs, len(variants)) if rc is not None else None
        for o in outputs:
            full_fwd.values[o][order] = fwd.values[o]
            if full_rc is not None and rc is not None:
                full_rc.values[o][order] = rc.values[o]
        return _Scored(score, outputs, windows, full_fwd, full_rc, status)

    def score(self, variants: list[Variant]) -> pd.DataFrame:
        """Rows for ``variants`` (see the module docstring), in input order then score order."""
        site = [check_site(v, self.reference) for v in variants]
        results = [self._run_score(s, variants, site) for s in self.scores]
        self.builder.clear()
        cols: dict[str, list[Any]] = {c: [] for c in ROW_COLUMNS}
        for i, v in enumerate(variants):
            for r in results:
                w = r.windows.get(i)
                st = r.status.get(i, site[i])
                for o in r.outputs:
                    f = float(r.fwd.values[o][i])
                    b = float(r.rc.values[o][i]) if r.rc is not None else math.nan
                    ok = st == "ok"
                    value = (f + b) / 2 if r.rc is not None else f
                    _append(
                        cols,
                        v,
                        o,
                        value if ok else math.nan,
                        f if ok else math.nan,
                        b if ok else math.nan,
                        st,
                        w,
                    )
        return _frame(cols)


def _append(
    cols: dict[str, list[Any]],
    v: Variant,
    out: str,
    value: float,
    f: float,
    b: float,
    st: str,
    w: AlleleWindow | None,
) -> None:
    for key, val in (
        ("record", v.record),
        ("allele", v.allele),
        ("chrom", v.chrom),
        ("pos", v.pos),
        ("id", v.id),
        ("ref", v.ref),
        ("alt", v.alt),
        ("label", v.label),
        ("score", out),
        ("value", value),
        ("value_fwd", f),
        ("value_rc", b),
        ("status", st),
        ("window_start", w.start if w else None),
        ("window_end", w.end if w else None),
        ("ref_window_len", len(w.ref_seq) if w else None),
        ("alt_window_len", len(w.alt_seq) if w else None),
        ("clipped", w.clipped if w else None),
    ):
        cols[key].append(val)


def _frame(cols: dict[str, list[Any]]) -> pd.DataFrame:
    df = pd.DataFrame(cols, columns=ROW_COLUMNS)
    for c in ("record", "allele", "pos"):
        df[c] = df[c].astype(np.int64)
    for c in ("window_start", "window_end", "ref_window_len", "alt_window_len"):
        df[c] = df[c].astype("Int64")
    df["clipped"] = df["clipped"].astype("boolean")
    for c in ("chrom", "id", "ref", "alt", "label", "score", "status"):
        df[c] = df[c].astype(object)
    for c in ("value", "value_fwd", "value_rc"):
        df[c] = df[c].astype(np.float64)
    return df
