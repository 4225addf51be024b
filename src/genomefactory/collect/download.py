"""``genomefactory-cli download``: species / taxa / accessions through NCBI Datasets v2, plus plain links.

Output folder: ``<accession>/<NCBI file name>.fna`` per assembly, link files at the top, ``genomes.json`` (one
record per genome: accession, organism, taxon, level, size, SHA-256, source URL, date; rewritten atomically after
each genome so an interrupted run keeps what finished) and ``manifest.json``. A rerun skips genomes whose file is
present with the recorded SHA-256 and resumes partial downloads.

Order of work: the request is checked first (species names, accession formats, link file names — two links that
would be saved under one name are refused), then NCBI is asked for the assembly reports, and only then is the
output folder made and are files downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..io import atomic_write_json, check_output_dir, sha256_file, write_manifest
from .config import DownloadConfig, DownloadResult, GenomeRecord
from .http import HttpClient
from .links import download_link, link_filename, link_saved_as
from .ncbi import accession_report, check_accession, dataset_reports, extract_fasta, species_table, taxon_for


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _load_records(out: Path) -> dict[str, GenomeRecord]:
    listing = out / "genomes.json"
    if not listing.is_file():
        return {}
    return {r["accession"]: GenomeRecord(**r) for r in json.loads(listing.read_text())}


def _complete(out: Path, rec: GenomeRecord | None) -> bool:
    return rec is not None and (out / rec.path).is_file() and sha256_file(out / rec.path) == rec.sha256


def _fetch_assembly(client: HttpClient, cfg: DownloadConfig, report: dict[str, Any]) -> GenomeRecord:
    acc = report.get("current_accession") or report["accession"]
    url = f"{cfg.base_url.rstrip('/')}/genome/accession/{acc}/download"
    params = [("include_annotation_type", "GENOME_FASTA"), ("filename", f"{acc}.zip")]
    out = Path(cfg.output_dir)
    zip_path = out / ".cache" / f"{acc}.zip"
    client.download(url, zip_path, params=params)
    try:
        files = extract_fasta(zip_path, acc, out / acc)
    except Exception:
        zip_path.unlink(missing_ok=True)  # an untrustworthy package is not resumed
        raise
    zip_path.unlink()
    fasta = files[0]
    organism = report.get("organism", {})
    return GenomeRecord(
        accession=acc,
        organism=str(organism.get("organism_name", acc)),
        taxon=organism.get("tax_id"),
        level=report.get("assembly_info", {}).get("assembly_level"),
        path=str(fasta.relative_to(out)),
        size=fasta.stat().st_size,
        sha256=sha256_file(fasta),
        source_url=url,
        date=_now(),
    )


def _fetch_link(client: HttpClient, cfg: DownloadConfig, url: str) -> GenomeRecord:
    out = Path(cfg.output_dir)
    path, _ = download_link(client, url, out, sha256=cfg.checksums.get(url))
    name = _record_name(path.name)
    return GenomeRecord(
        accession=name,
        organism=name,
        taxon=None,
        level=None,
        path=path.name,
        size=path.stat().st_size,
        sha256=sha256_file(path),
        source_url=url,
        date=_now(),
    )


def _record_name(file_name: str) -> str:
    return file_name.split(".")[0]


def _check_links(links: list[str]) -> None:
    """Every link is an http(s) URL ending in a file name, and no two would be saved (or listed) as one."""
    by_file: dict[str, str] = {}
    by_record: dict[str, str] = {}
    for url in links:
        saved = link_saved_as(link_filename(url))
        for seen, key in ((by_file, saved), (by_record, _record_name(saved))):
            other = seen.setdefault(key, url)
            if other != url:
                raise DataError(
                    f"links {other} and {url} would both be saved as {saved!r} (genome {_record_name(saved)!r}) in "
                    "output_dir, the second overwriting the first; download them into different output_dir folders"
                )


def _taxa(cfg: DownloadConfig) -> list[int]:
    table = species_table(cfg.species_file) if cfg.species else {}
    return list(dict.fromkeys([taxon_for(s, table) for s in cfg.species] + list(cfg.taxa)))


def _reports(client: HttpClient, cfg: DownloadConfig, taxa: list[int]) -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = []
    for taxon in taxa:
        reports.extend(dataset_reports(client, cfg, taxon))
    reports.extend(accession_report(client, cfg, acc) for acc in dict.fromkeys(cfg.accessions))
    return reports


def run_download(cfg: DownloadConfig) -> DownloadResult:
    """Download everything ``cfg`` asks for; see the module docstring for the layout and the order of work."""
    out = Path(cfg.output_dir)
    check_output_dir(out, overwrite=True)  # an earlier download folder is resumed; a file there is an error
    taxa = _taxa(cfg)
    for acc in cfg.accessions:
        check_accession(acc)
    links = list(dict.fromkeys(cfg.links))
    _check_links(links)
    client = HttpClient(cfg.http, api_key=cfg.api_key or os.environ.get("NCBI_API_KEY") or None)
    reports = _reports(client, cfg, taxa)
    out.mkdir(parents=True, exist_ok=True)
    records = _load_records(out)
    result = DownloadResult(out)

    def save(rec: GenomeRecord) -> None:
        records[rec.accession] = rec
        result.genomes.append(rec)
        atomic_write_json(out / "genomes.json", [asdict(r) for r in records.values()])

    for report in reports:
        acc = report.get("current_accession") or report["accession"]
        if _complete(out, records.get(acc)):
            result.skipped.append(acc)
            continue
        save(_fetch_assembly(client, cfg, report))
    for url in links:
        done = next((r for r in records.values() if r.source_url == url), None)
        if done is not None and _complete(out, done):
            result.skipped.append(done.accession)
            continue
        save(_fetch_link(client, cfg, url))
    cache = out / ".cache"
    if cache.is_dir() and not any(cache.iterdir()):
        shutil.rmtree(cache)
    write_manifest(out, cfg.model_dump(mode="json", exclude={"api_key"}), [], None, "download")
    return result
