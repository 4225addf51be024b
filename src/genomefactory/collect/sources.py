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

import gzip
import hashlib
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import DataError
from ..io import atomic_open, atomic_write_json
from .config import NCBI_BASE_URL, DownloadConfig, FetchConfig, LocalRegion, RegionTask, SourceRef
from .http import HttpClient
from .links import download_link, link_filename
from .source_table import Assembly, SourceTable, load_table, named_sources

log = logging.getLogger(__name__)


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
    named = named_sources(task, region, table)
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
