"""Motif databases: JASPAR through ``pyjaspar`` (release, collection and taxon selectable) or a MEME file.

Every motif is a position probability matrix (PPM) of shape ``(4, width)`` in A, C, G, T order, columns summing
to 1 (the layout ``memelite``'s ``tomtom`` and ``fimo`` read). JASPAR counts become probabilities with no
pseudocount here; scanning adds its own (:mod:`.scan`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import DataError, UserFileNotFoundError, missing_extra

__all__ = ["Motif", "MotifDB", "load_jaspar", "load_motif_db", "read_meme", "write_meme"]

BASES = "ACGT"


@dataclass(frozen=True)
class Motif:
    id: str  # JASPAR matrix id (MA0139.2) or the MEME file's motif name
    name: str  # TF name (CTCF); the id again when the file gives none
    ppm: np.ndarray = field(repr=False)  # (4, width) probabilities, A C G T

    @property
    def width(self) -> int:
        return int(self.ppm.shape[1])

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name != self.id else self.id

    def consensus(self) -> str:
        return "".join(BASES[int(i)] for i in self.ppm.argmax(0))


@dataclass
class MotifDB:
    source: str  # "JASPAR2024 CORE vertebrates" or the MEME file's path
    motifs: list[Motif]

    def __post_init__(self) -> None:
        if not self.motifs:
            raise DataError(f"motif database {self.source}: no motifs selected; widen the filter")
        self.by_id = {m.id: m for m in self.motifs}

    def __len__(self) -> int:
        return len(self.motifs)

    def get(self, key: str) -> Motif:
        """A motif by id (``MA0139.2``), base id (``MA0139``, the latest version) or TF name (``CTCF``: the
        matrix with the smallest id among those of that name, JASPAR's oldest profile of the factor)."""
        if key in self.by_id:
            return self.by_id[key]
        base = [m for m in self.motifs if m.id.split(".")[0] == key]
        if base:
            return max(base, key=lambda m: m.id)
        named = [m for m in self.motifs if m.name.upper() == key.upper()]
        if named:
            return min(named, key=lambda m: m.id)
        raise DataError(
            f"motif {key!r} is not in {self.source} ({len(self)} motifs); give a matrix id such as "
            f"{self.motifs[0].id} or a TF name such as {self.motifs[0].name}"
        )


def _normalised(counts: np.ndarray, where: str) -> np.ndarray:
    if counts.ndim != 2 or counts.shape[0] != 4 or counts.shape[1] == 0:
        raise DataError(f"{where}: a motif needs 4 rows (A, C, G, T) and at least one column")
    if (counts < 0).any() or not np.isfinite(counts).all():
        raise DataError(f"{where}: negative or non-finite values in the matrix")
    sums = counts.sum(0, keepdims=True)
    if (sums <= 0).any():
        raise DataError(f"{where}: a column sums to 0")
    return np.ascontiguousarray(counts / sums, dtype=np.float64)


def load_jaspar(
    release: str = "JASPAR2024",
    collection: str | None = "CORE",
    tax_group: Sequence[str] | None = ("vertebrates",),
    ids: Sequence[str] | None = None,
) -> MotifDB:
    """JASPAR motifs from the SQLite files shipped with ``pyjaspar`` (latest version of each matrix)."""
    try:
        from pyjaspar import jaspar_releases, jaspardb
    except ImportError as exc:
        raise missing_extra("JASPAR motifs", "pyjaspar", "motifs") from exc
    if release not in jaspar_releases:
        raise DataError(
            f"JASPAR release {release!r} is not shipped with pyjaspar; releases: {', '.join(jaspar_releases)}"
        )
    db = jaspardb(release=release)
    groups = [g.lower() for g in tax_group] if tax_group else None
    if ids:
        record = db.fetch_motifs(matrix_id=list(ids))
    else:
        record = db.fetch_motifs(collection=collection, tax_group=groups)
    motifs = []
    for m in record:
        counts = np.array([m.counts[b] for b in BASES], dtype=np.float64)
        motifs.append(Motif(str(m.matrix_id), str(m.name), _normalised(counts, f"{release} {m.matrix_id}")))
    if ids:
        found = {m.id for m in motifs} | {m.id.split(".")[0] for m in motifs}
        missing = [i for i in ids if i not in found]
        if missing:
            raise DataError(f"JASPAR {release}: no matrix {missing}; check the ids (e.g. MA0139.2)")
    where = " ".join(x for x in (release, collection or "all collections", ",".join(groups or [])) if x)
    return MotifDB(where, motifs)


_LETTER = re.compile(r"letter-probability matrix:.*?\bw=\s*(\d+)", re.IGNORECASE)


def read_meme(path: str | Path) -> MotifDB:
    """Motifs of a MEME text file (``MOTIF id [name]`` then a ``letter-probability matrix`` of ``w`` rows)."""
    p = Path(path)
    if not p.is_file():
        raise UserFileNotFoundError(f"MEME file {p} not found")
    lines = p.read_text().splitlines()
    alphabet = next((ln.split("=", 1)[1].strip() for ln in lines if ln.startswith("ALPHABET")), "ACGT")
    if alphabet.split()[0] != "ACGT":
        raise DataError(f"{p}: ALPHABET {alphabet!r}; only DNA motifs (ALPHABET= ACGT) are supported")
    motifs: list[Motif] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line.startswith("MOTIF"):
            i += 1
            continue
        parts = line.split()
        if len(parts) < 2:
            raise DataError(f"{p} line {i + 1}: MOTIF without an id")
        mid, name = parts[1], (parts[2] if len(parts) > 2 else parts[1])
        j = i + 1
        while j < len(lines) and not _LETTER.search(lines[j]):
            if lines[j].startswith("MOTIF"):
                raise DataError(f"{p} line {i + 1}: motif {mid} has no letter-probability matrix")
            j += 1
        if j == len(lines):
            raise DataError(f"{p} line {i + 1}: motif {mid} has no letter-probability matrix")
        m = _LETTER.search(lines[j])
        assert m is not None
        width = int(m.group(1))
        rows = []
        for k in range(j + 1, j + 1 + width):
            vals = lines[k].split() if k < len(lines) else []
            try:
                row = [float(v) for v in vals]
            except ValueError:
                row = []
            if len(row) != 4:
                raise DataError(
                    f"{p} line {k + 1}: motif {mid} row {k - j} should hold 4 probabilities (A C G T), "
                    f"found {lines[k].strip()!r}"
                    if k < len(lines)
                    else f"{p}: motif {mid} ends early"
                )
            rows.append(row)
        motifs.append(Motif(mid, name, _normalised(np.array(rows).T, f"{p} motif {mid}")))
        i = j + 1 + width
    if not motifs:
        raise DataError(f"{p}: no MOTIF entries; is it a MEME motif file?")
    return MotifDB(str(p), motifs)


def write_meme(path: str | Path, motifs: Sequence[Motif]) -> None:
    """A MEME text file of ``motifs`` (uniform background), written atomically."""
    from ...io import atomic_write_text

    out = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", ""]
    out += ["Background letter frequencies", "A 0.25 C 0.25 G 0.25 T 0.25", ""]
    for m in motifs:
        out.append(f"MOTIF {m.id} {m.name}")
        out.append(f"letter-probability matrix: alength= 4 w= {m.width} nsites= 20 E= 0")
        out += [" ".join(f"{v:.6f}" for v in col) for col in m.ppm.T]
        out.append("")
    atomic_write_text(path, "\n".join(out) + "\n")


def load_motif_db(
    meme_file: str | None,
    release: str,
    collection: str | None,
    tax_group: Sequence[str] | None,
) -> MotifDB:
    """The user's MEME file when given, else JASPAR."""
    if meme_file:
        return read_meme(meme_file)
    return load_jaspar(release, collection, tax_group)
