"""The table of named default sources (public annotation/signal files and their assemblies) and the checks a
region config's named sources must pass.

The table (``genomefactory/data/task_sources.json``, extended/overridden by ``region.fetch.sources_file`` of the
same shape) has ``assemblies`` (species, NCBI accession, assembly name, NCBI FTP folder) and ``sources`` (role
``annotation`` or ``signal``, format, tasks, species, assembly, URL, whether the URL was verified, and where it was
seen). Fetching them is :mod:`genomefactory.collect.sources`.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import DataError, UserFileNotFoundError
from .config import GenomeRef, RegionTask, SourceRef

__all__ = ["ROLES", "Assembly", "Source", "SourceTable", "check_region", "load_table", "named_sources"]

ROLES = ("annotation", "signal")
_SOURCE_KEYS = {"role", "format", "tasks", "species", "assembly", "url"}
_ASSEMBLY_KEYS = {"species", "accession", "name", "ftp"}


@dataclass(frozen=True)
class Assembly:
    key: str
    species: str
    accession: str
    name: str
    ftp: str
    verified: bool = False

    def file_url(self, suffix: str) -> str:
        return f"{self.ftp.rstrip('/')}/{self.accession}_{self.name}_{suffix}"


@dataclass(frozen=True)
class Source:
    key: str
    role: str
    format: str
    tasks: tuple[str, ...]
    species: str
    assembly: str
    url: str | None
    verified: bool = False
    evidence: str = ""
    prepare: str | None = None


@dataclass
class SourceTable:
    assemblies: dict[str, Assembly] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)

    def names(self, role: str | None = None) -> list[str]:
        return sorted(k for k, s in self.sources.items() if role is None or s.role == role)

    def source(self, name: str, role: str) -> Source:
        if name in self.sources:
            return self.sources[name]
        close = difflib.get_close_matches(name, list(self.sources), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise DataError(
            f"unknown {role} source {name!r}.{hint} Known {role} sources: "
            f"{', '.join(self.names(role))}. Add your own in a fetch.sources_file JSON "
            "or give {path: ...} / {url: ...}"
        )

    def assembly(self, name: str) -> Assembly:
        if name in self.assemblies:
            return self.assemblies[name]
        raise DataError(
            f"unknown assembly {name!r}; known assemblies: {', '.join(sorted(self.assemblies))}. "
            "Add it under `assemblies` of a fetch.sources_file JSON, or give {accession: GCF_...}"
        )


def _entries(data: Any, section: str, where: str, required: set[str]) -> dict[str, dict[str, Any]]:
    block = data.get(section, {}) if isinstance(data, dict) else None
    if not isinstance(block, dict):
        raise DataError(f"{where}: `{section}` must be a JSON object of named entries")
    for name, entry in block.items():
        missing = required - set(entry) if isinstance(entry, dict) else required
        if missing:
            raise DataError(f"{where}: {section}.{name} lacks key(s) {', '.join(sorted(missing))}")
    return block


def _merge(table: SourceTable, data: Any, where: str) -> None:
    for name, e in _entries(data, "assemblies", where, _ASSEMBLY_KEYS).items():
        table.assemblies[name] = Assembly(
            name,
            str(e["species"]),
            str(e["accession"]),
            str(e["name"]),
            str(e["ftp"]),
            bool(e.get("verified", False)),
        )
    for name, e in _entries(data, "sources", where, _SOURCE_KEYS).items():
        if e["role"] not in ROLES:
            raise DataError(f"{where}: sources.{name}.role is {e['role']!r}; use one of {', '.join(ROLES)}")
        if not isinstance(e["tasks"], list):
            raise DataError(f'{where}: sources.{name}.tasks must be a list like ["promoter"]')
        table.sources[name] = Source(
            name,
            e["role"],
            str(e["format"]),
            tuple(e["tasks"]),
            str(e["species"]),
            str(e["assembly"]),
            e["url"],
            bool(e.get("verified", False)),
            str(e.get("evidence", "")),
            e.get("prepare"),
        )
    for s in table.sources.values():
        if s.assembly not in table.assemblies:
            raise DataError(
                f"{where}: source {s.key!r} names assembly {s.assembly!r}, which is not in `assemblies`"
            )


def load_table(extra: Path | None = None) -> SourceTable:
    """The bundled source table, extended (and overridden entry by entry) by a user JSON file."""
    table = SourceTable()
    text = resources.files("genomefactory").joinpath("data/task_sources.json").read_text()
    _merge(table, json.loads(text), "data/task_sources.json")
    if extra is not None:
        if not Path(extra).is_file():
            raise UserFileNotFoundError(f"fetch.sources_file {extra} not found")
        try:
            data = json.loads(Path(extra).read_text())
        except ValueError as exc:
            raise DataError(f"fetch.sources_file {extra} is not valid JSON: {exc}") from exc
        _merge(table, data, str(extra))
    return table


def named_sources(task: str, region: RegionTask, table: SourceTable) -> dict[str, Source]:
    named: dict[str, Source] = {}
    for slot in ROLES:
        ref = getattr(region, slot)
        if not (isinstance(ref, SourceRef) and ref.source is not None):
            continue
        src = table.source(ref.source, slot)
        if src.role != slot:
            raise DataError(
                f"region.{slot}.source {src.key!r} is a {src.role} source; {slot} sources: "
                f"{', '.join(table.names(slot))}"
            )
        if task not in src.tasks:
            raise DataError(
                f"region.{slot}.source {src.key!r} is for task(s) {', '.join(src.tasks)}, not {task!r}; "
                f"sources for {task}: {', '.join(n for n in table.names(slot) if task in table.sources[n].tasks)}"
            )
        if src.url is None:
            raise DataError(
                f"source {src.key!r} has no verified URL ({src.evidence}); give region.{slot} as "
                "{url: ...} or {path: ...}, or define it in a fetch.sources_file"
            )
        named[slot] = src
    return named


def check_region(task: str, region: RegionTask) -> None:
    """Config-time checks of named sources: names, roles, tasks, one assembly, species, a genome to use."""
    table = load_table(region.fetch.sources_file)
    named = named_sources(task, region, table)
    assemblies = sorted({s.assembly for s in named.values()})
    if len(assemblies) > 1:
        raise DataError(
            f"region sources are on different assemblies ({', '.join(assemblies)}); pick sources of one"
        )
    genome = region.genome
    if isinstance(genome, GenomeRef) and genome.assembly is not None:
        table.assembly(genome.assembly)
        if assemblies and genome.assembly != assemblies[0]:
            raise DataError(
                f"region.genome.assembly {genome.assembly!r} differs from the sources' assembly {assemblies[0]!r}"
            )
    if genome is None and not named:
        raise DataError(
            "region.genome is required when annotation and signal are not named sources "
            "(a path, or {assembly: hg38} / {accession: GCF_...} / {url: ...})"
        )
    species = {s.species for s in named.values()}
    if "species" in region.model_fields_set and species and species != {region.species}:
        raise DataError(
            f"region.species is {region.species!r} but the named sources are {', '.join(sorted(species))}"
        )
