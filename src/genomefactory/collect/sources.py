"""Named default sources of the task builders: a table of public files, fetched once into a cache.

The table (``genomefactory/data/task_sources.json``, extended/overridden by ``region.fetch.sources_file`` of the
same shape) has ``assemblies`` (species, NCBI accession, assembly name, NCBI FTP folder) and ``sources`` (role
``annotation`` or ``signal``, format, tasks, species, assembly, URL, whether the URL was verified, and where it was
seen). A region config names them: ``annotation: {source: epdnew_human}``; the genome defaults to the source's
assembly, fetched by accession (NCBI Datasets zip, or the FTP ``*_genomic.fna.gz``), and its NCBI assembly
report becomes the chromosome alias table (``chr1`` / ``1`` / ``NC_000001.11``) unless ``chrom_aliases`` is given.

Cache (``fetch.cache_dir``, else ``$GENOMEFACTORY_CACHE``, else ``<output_dir>/source_cache``): one folder per
source/assembly, ``genomes/`` for NCBI Datasets downloads, ``urls/<hash>/`` for plain URLs, and ``sources.json``
(original URL -> file, size, mtime, SHA-256 of the bytes served, fetched URL, date). A file is reused while its
size and mtime match the index; anything else is fetched again (resumable, atomic; see ``http.py``).

``fetch.base_url`` points every URL at a mirror or test server: ``https://host/a/b`` becomes ``<base_url>/a/b``,
NCBI Datasets included (``<base_url>/datasets/v2/...``).

EPDnew BED files are whitespace-separated 60 bp windows (49 bp 5' of the TSS, the TSS and 10 bp 3'), the TSS
being ``thickStart`` on ``+`` and ``thickEnd - 1`` on ``-``; sources marked ``"prepare": "epdnew_tss"`` are
converted to a tab-separated BED of 1 bp TSS intervals (0-based half-open) before the promoter builder reads them.
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import DataError, UserFileNotFoundError
from ..io import atomic_open, atomic_write_json
from .config import NCBI_BASE_URL, DownloadConfig, FetchConfig, GenomeRef, LocalRegion, RegionTask, SourceRef
from .http import HttpClient
from .links import download_link, link_filename

log = logging.getLogger(__name__)
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


def _named(task: str, region: RegionTask, table: SourceTable) -> dict[str, Source]:
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
    named = _named(task, region, table)
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


def rebase(url: str, base: str | None) -> str:
    """``url`` with scheme and host replaced by ``base`` (its path appended), or unchanged without a base."""
    if not base:
        return url
    parsed = urlparse(url)
    rest = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    return base.rstrip("/") + rest


def cache_root(fetch: FetchConfig, output_dir: Path) -> Path:
    if fetch.cache_dir is not None:
        return Path(fetch.cache_dir)
    env = os.environ.get("GENOMEFACTORY_CACHE")
    return Path(env) if env else Path(output_dir) / "source_cache"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class SourceCache:
    """Fetches URLs and assemblies into ``root`` once; ``fetched`` lists what this run downloaded."""

    def __init__(self, root: Path, fetch: FetchConfig) -> None:
        self.root = root
        self.fetch_cfg = fetch
        self.index_path = root / "sources.json"
        self.index: dict[str, dict[str, Any]] = (
            json.loads(self.index_path.read_text()) if self.index_path.is_file() else {}
        )
        self._client: HttpClient | None = None
        self.fetched: list[str] = []

    @property
    def client(self) -> HttpClient:
        if self._client is None:  # no session (and no network) when everything is cached
            self._client = HttpClient(self.fetch_cfg.http, api_key=os.environ.get("NCBI_API_KEY") or None)
        return self._client

    def cached(self, key: str) -> Path | None:
        entry = self.index.get(key)
        if entry is None:
            return None
        path = self.root / entry["path"]
        if not path.is_file():
            return None
        st = path.stat()
        if st.st_size != entry["size"] or st.st_mtime_ns != entry["mtime_ns"]:
            log.warning("cached %s changed since it was fetched (%s); fetching it again", path, key)
            return None
        return path

    def _record(self, key: str, path: Path, url: str, sha256: str | None) -> Path:
        st = path.stat()
        self.index[key] = {
            "path": str(path.relative_to(self.root)),
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "sha256_served": sha256,
            "fetched_from": url,
            "date": _now(),
        }
        atomic_write_json(self.index_path, self.index)
        self.fetched.append(key)
        return path

    def url(self, url: str, folder: str, decompress: bool = False, sha256: str | None = None) -> Path:
        """The cached copy of ``url`` (as served, or gunzipped when ``decompress``), fetching it if needed."""
        key = f"{url}#gunzip" if decompress else url
        hit = self.cached(key)
        if hit is not None:
            return hit
        real = rebase(url, self.fetch_cfg.base_url)
        out = self.root / folder
        if decompress:
            path, digest = download_link(self.client, real, out, sha256=sha256)
        else:
            path = out / link_filename(real)
            digest = self.client.download(real, path, sha256=sha256)
        return self._record(key, path, real, digest)

    def accession(self, accession: str) -> Path:
        """Genome FASTA of an NCBI assembly accession through the NCBI Datasets downloader."""
        from .download import run_download

        key = f"ncbi-datasets:{accession}"
        hit = self.cached(key)
        if hit is not None:
            return hit
        out = self.root / "genomes"
        cfg = DownloadConfig(
            output_dir=out,
            accessions=[accession],
            http=self.fetch_cfg.http,
            base_url=rebase(NCBI_BASE_URL, self.fetch_cfg.base_url),
        )
        run_download(cfg)
        records = {r["accession"]: r for r in json.loads((out / "genomes.json").read_text())}
        if accession not in records:
            raise DataError(f"NCBI Datasets returned no genome for {accession} (see {out / 'genomes.json'})")
        rec = records[accession]
        return self._record(key, out / rec["path"], rec["source_url"], rec["sha256"])


def _prepare_epdnew(raw: Path, folder: Path | None = None) -> Path:
    """EPDnew BED (whitespace-separated, thick part = TSS + 10 bp) -> tab BED of 1 bp TSS intervals."""
    dest = (folder or raw.parent) / (raw.name.removesuffix(".gz").removesuffix(".bed") + ".tss.bed")
    rows = []
    opener = gzip.open if raw.name.endswith(".gz") else open
    with opener(raw, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            cols = line.split()
            if not cols or cols[0].startswith(("#", "track", "browser")):
                continue
            if len(cols) < 8 or cols[5] not in "+-":
                raise DataError(
                    f"{raw}: line {n}: an EPDnew BED row has 8 columns with strand and thickStart/"
                    f"thickEnd, got {line.strip()!r}"
                )
            start, end, thick_s, thick_e = (int(c) for c in (cols[1], cols[2], cols[6], cols[7]))
            tss = thick_s if cols[5] == "+" else thick_e - 1
            if not start <= tss < end:
                raise DataError(
                    f"{raw}: line {n}: TSS {tss} from the thick part lies outside [{start}, {end})"
                )
            rows.append(f"{cols[0]}\t{tss}\t{tss + 1}\t{cols[3]}\t{cols[4]}\t{cols[5]}\n")
    if not rows:
        raise DataError(f"{raw}: no EPDnew promoter rows")
    with atomic_open(dest) as out:
        out.writelines(rows)
    return dest


def _ref_file(
    cache: SourceCache, table: SourceTable, ref: Path | SourceRef, slot: str
) -> tuple[Path, dict[str, Any]]:
    if isinstance(ref, Path):
        return ref, {"path": str(ref)}
    if ref.path is not None or ref.url is not None:
        digest = hashlib.sha1(str(ref.path or ref.url).encode()).hexdigest()[:12]
        path = (
            ref.path if ref.path is not None else cache.url(str(ref.url), f"urls/{digest}", sha256=ref.sha256)
        )
        if ref.format == "epdnew":  # converted beside the cache, never next to the user's file
            path = _prepare_epdnew(path, cache.root / "prepared" / digest)
        return path, {
            "url" if ref.url else "path": str(ref.url or ref.path),
            "format": ref.format,
            "file": str(path),
        }
    assert ref.source is not None
    src = table.source(ref.source, slot)
    assert src.url is not None  # check_region refused URL-less sources
    if not src.verified:
        log.warning("source %s: URL %s is not verified (%s)", src.key, src.url, src.evidence)
    path = cache.url(src.url, src.key)
    if src.prepare == "epdnew_tss":
        path = _prepare_epdnew(path)
    elif src.prepare is not None:
        raise DataError(f"source {src.key!r}: unknown prepare step {src.prepare!r} (known: epdnew_tss)")
    return path, {
        "source": src.key,
        "url": src.url,
        "verified": src.verified,
        "assembly": src.assembly,
        "path": str(path),
    }


def _genome(
    cache: SourceCache, table: SourceTable, region: RegionTask, assembly: str | None
) -> tuple[Path, Assembly | None, dict[str, Any]]:
    ref = region.genome
    if isinstance(ref, Path):
        return ref, None, {"path": str(ref)}
    if ref is not None and ref.path is not None:
        return ref.path, None, {"path": str(ref.path)}
    if ref is not None and ref.url is not None:
        path = cache.url(ref.url, "urls/" + hashlib.sha1(ref.url.encode()).hexdigest()[:12], decompress=True)
        return path, None, {"url": ref.url, "path": str(path)}
    acc = ref.accession if ref is not None else None
    name = ref.assembly if ref is not None and ref.assembly else assembly
    asm = (
        table.assembly(name)
        if name
        else next((a for a in table.assemblies.values() if a.accession == acc), None)
    )
    acc = acc or (asm.accession if asm else None)
    assert acc is not None  # check_region guarantees a genome or a named source
    if cache.fetch_cfg.genome_via == "ftp":
        if asm is None:
            raise DataError(
                f"genome_via: ftp needs the assembly's FTP folder; {acc} is not in the source table "
                "(use genome_via: datasets, or add it under `assemblies` of a sources_file)"
            )
        path = cache.url(asm.file_url("genomic.fna.gz"), asm.key, decompress=True)
    else:
        path = cache.accession(acc)
    return (
        path,
        asm,
        {
            "accession": acc,
            "assembly": asm.key if asm else None,
            "via": cache.fetch_cfg.genome_via,
            "path": str(path),
        },
    )


def resolve_region(task: str, region: RegionTask, output_dir: Path) -> tuple[LocalRegion, dict[str, Any]]:
    """Fetch (or find in the cache) every named source/URL/assembly of ``region``; returns local paths + a report."""
    table = load_table(region.fetch.sources_file)
    named = _named(task, region, table)
    cache = SourceCache(cache_root(region.fetch, output_dir), region.fetch)
    info: dict[str, Any] = {"cache_dir": str(cache.root)}
    annotation, info["annotation"] = _ref_file(cache, table, region.annotation, "annotation")
    signal = None
    if region.signal is not None:
        signal, info["signal"] = _ref_file(cache, table, region.signal, "signal")
    assembly = next((s.assembly for s in named.values()), None)
    genome, asm, info["genome"] = _genome(cache, table, region, assembly)
    aliases = region.chrom_aliases
    asm = asm or (table.assembly(assembly) if assembly else None)  # a local genome may still use NCBI names
    if aliases is None and asm is not None:
        aliases = cache.url(asm.file_url("assembly_report.txt"), asm.key)
        info["chrom_aliases"] = {"assembly_report": asm.file_url("assembly_report.txt"), "path": str(aliases)}
    info["fetched"] = list(cache.fetched)
    values = region.model_dump(exclude={"genome", "annotation", "signal", "chrom_aliases"})
    local = LocalRegion.model_validate(
        {**values, "genome": genome, "annotation": annotation, "signal": signal, "chrom_aliases": aliases}
    )
    return local, info
