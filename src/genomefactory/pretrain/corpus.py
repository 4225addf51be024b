"""A FASTA collection as a source of fixed-size windows: random access, nothing loaded whole.

Every file is opened through :func:`genomefactory.genome.open_genome` (pyfaidx; a plain-gzip file is first
decompressed, streaming, into a temporary file that lives as long as the :class:`Corpus`). Coordinates are 0-based
half-open on the ``+`` strand; sequences are upper case (IUPAC as stored).

Held-out split: whole records (``data.val_contigs``, else records drawn with the seed until ``val_fraction`` of the
bases), or, when the collection has one record, its last ``val_fraction``. Training and validation never share a
base.

Sources: a record (or region) at least one window long is one source; shorter records are packed, in file order,
into sources of at least one window (their sequences concatenated, so a window may span a record boundary, as
documents are packed for language models); a last pack shorter than a window is dropped and logged.

Training window ``i`` is drawn from ``numpy.random.default_rng([seed, i])``: a source with probability proportional
to its number of window starts, a uniform start, a strand when ``rc_augment``. So window ``i`` is the same on every
rank and in every run with the same seed, and a window is one random read. Validation windows are non-overlapping
tiles of the held-out sources, evenly spread when there are more than ``val_windows``.
"""

from __future__ import annotations

import gzip
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ConfigError
from ..errors import DataError
from ..genome import compression, open_genome
from ..sequence import IUPAC, first_invalid, reverse_complement

__all__ = ["Corpus", "Piece", "Source", "Window"]

log = logging.getLogger("genomefactory.pretrain")


@dataclass(frozen=True)
class Piece:
    """``[start, end)`` of record ``name`` in file number ``file``."""

    file: int
    name: str
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Source:
    """One sampling unit: a record region, or short records packed end to end."""

    pieces: tuple[Piece, ...]

    @property
    def length(self) -> int:
        return sum(p.length for p in self.pieces)


@dataclass(frozen=True)
class Window:
    source: int
    start: int
    strand: str  # "+" or "-"


class Corpus:
    """The collection's records, its train/validation sources, and window reads."""

    def __init__(
        self,
        paths: list[str],
        window: int,
        *,
        val_contigs: list[str] | None = None,
        val_fraction: float = 0.1,
        pack_short: bool = True,
        seed: int = 0,
    ) -> None:
        self.window = window
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.paths = [Path(p) for p in paths]
        self.fastas = [self._open(p, i) for i, p in enumerate(self.paths)]
        records: list[Piece] = []
        seen: dict[str, Path] = {}
        for i, fa in enumerate(self.fastas):
            for name in fa.keys():  # noqa: SIM118 (iterating a pyfaidx.Fasta yields records, not names)
                if name in seen:
                    raise DataError(
                        f"record {name!r} is in both {seen[name]} and {self.paths[i]}; record names must be unique "
                        "across data.paths (held-out contigs are named by them)"
                    )
                seen[name] = self.paths[i]
                records.append(Piece(i, name, 0, len(fa[name])))
        if not records:
            raise DataError(f"data.paths hold no FASTA records: {', '.join(map(str, self.paths))}")
        train, val = _split(records, window, list(val_contigs or []), val_fraction, seed)
        self.train = _sources(train, window, pack_short, "training")
        self.val = _sources(val, window, pack_short, "validation")
        if not self.train or not self.val:
            which = "training" if not self.train else "validation"
            raise DataError(
                f"no {which} sequence of at least data.window={window} bases is left after the held-out split of "
                f"{', '.join(map(str, self.paths))}; lower data.window, change data.val_contigs/val_fraction, "
                "or add sequences"
            )
        starts = np.array([s.length - window + 1 for s in self.train], dtype=np.float64)
        self._weights = starts / starts.sum()
        self.train_bases = sum(s.length for s in self.train)
        self.val_bases = sum(s.length for s in self.val)

    def _open(self, path: Path, i: int) -> Any:
        what = f"data.paths[{i}]"
        if path.is_file() and compression(path) == "gzip":
            # plain gzip cannot be read at random: decompress once, streaming, into a temporary file
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="gf-pretrain-")
            plain = Path(self._tmp.name) / f"{i}_{path.name.removesuffix('.gz')}"
            with gzip.open(path, "rb") as src, open(plain, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            log.info("%s is plain gzip: decompressed to %s for random access", path, plain)
            return open_genome(plain, what=what)
        return open_genome(path, what=what)

    # -- reads ------------------------------------------------------------------------------------------
    def read(self, source: Source, start: int, length: int) -> str:
        """``length`` bases of ``source`` from ``start`` (pieces concatenated), ``+`` strand."""
        out, pos, end = [], 0, start + length
        for p in source.pieces:
            lo, hi = max(start, pos), min(end, pos + p.length)
            if lo < hi:
                a = p.start + lo - pos
                seq = str(self.fastas[p.file][p.name][a : a + hi - lo])
                bad = first_invalid(seq)
                if bad is not None:  # checked per read: a genome is never scanned whole
                    raise DataError(
                        f"{self.paths[p.file]}: record {p.name!r} has the invalid character {bad[1]!r} at position "
                        f"{a + bad[0]} (0-based); allowed are IUPAC codes {IUPAC} (any case): fix or remove it"
                    )
                out.append(seq)
            pos += p.length
            if pos >= end:
                break
        return "".join(out)

    def window_seq(self, sources: list[Source], w: Window) -> str:
        seq = self.read(sources[w.source], w.start, self.window)
        return reverse_complement(seq) if w.strand == "-" else seq

    def train_window(self, seed: int, index: int, rc_augment: bool, max_n: float) -> str:
        """Training window ``index`` of the run seeded ``seed`` (drawn again when more than ``max_n`` is N)."""
        rng = np.random.default_rng([seed, index])
        seq = ""
        for _ in range(10):
            k = int(rng.choice(len(self.train), p=self._weights))
            start = int(rng.integers(0, self.train[k].length - self.window + 1))
            strand = "-" if rc_augment and rng.random() < 0.5 else "+"
            seq = self.window_seq(self.train, Window(k, start, strand))
            if seq.count("N") <= max_n * len(seq):
                break
        return seq

    def val_tiles(self, n: int) -> list[Window]:
        """Non-overlapping validation windows, at most ``n``, evenly spread over all tiles."""
        tiles = [
            Window(k, start, "+")
            for k, s in enumerate(self.val)
            for start in range(0, s.length - self.window + 1, self.window)
        ]
        if len(tiles) <= n:
            return tiles
        pick = np.linspace(0, len(tiles) - 1, n).round().astype(int)
        return [tiles[i] for i in pick]

    def close(self) -> None:
        for fa in self.fastas:
            fa.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _split(
    records: list[Piece], window: int, val_contigs: list[str], fraction: float, seed: int
) -> tuple[list[Piece], list[Piece]]:
    """(training pieces, held-out pieces), in file order."""
    names = [r.name for r in records]
    if val_contigs:
        unknown = [c for c in val_contigs if c not in names]
        if unknown:
            raise ConfigError(
                f"data.val_contigs: {unknown} are not records of data.paths; records: {', '.join(names[:20])}"
                + (" ..." if len(names) > 20 else "")
            )
        held = set(val_contigs)
        if held == set(names):
            raise ConfigError("data.val_contigs holds out every record; leave at least one for training")
        return [r for r in records if r.name not in held], [r for r in records if r.name in held]
    if len(records) == 1:
        r = records[0]
        cut = r.end - max(window, round(fraction * r.length))
        if cut < window:
            raise DataError(
                f"record {r.name!r} ({r.length} bases) is too short to hold out a region of data.window={window} "
                "bases and still train on another; lower data.window or add sequences"
            )
        return [Piece(r.file, r.name, 0, cut)], [Piece(r.file, r.name, cut, r.end)]
    total = sum(r.length for r in records)
    order = np.random.default_rng(seed).permutation(len(records))
    held_idx: set[int] = set()
    bases = 0
    for i in order[:-1]:  # the last drawn always stays for training
        if bases >= fraction * total:
            break
        held_idx.add(int(i))
        bases += records[i].length
    return (
        [r for i, r in enumerate(records) if i not in held_idx],
        [r for i, r in enumerate(records) if i in held_idx],
    )


def _sources(pieces: list[Piece], window: int, pack_short: bool, what: str) -> list[Source]:
    out = [Source((p,)) for p in pieces if p.length >= window]
    short = [p for p in pieces if p.length < window]
    if not pack_short:
        if short:
            log.info("%s: %d records shorter than a window skipped (data.pack_short=false)", what, len(short))
        return out
    pack: list[Piece] = []
    for p in short:
        pack.append(p)
        if sum(q.length for q in pack) >= window:
            out.append(Source(tuple(pack)))
            pack = []
    if pack:
        log.info(
            "%s: the last %d short records (%d bases) do not fill a window: dropped",
            what,
            len(pack),
            sum(q.length for q in pack),
        )
    return out
