"""NCBI Datasets v2 REST: species -> taxon, dataset reports (filtered, paged), genome packages (zip).

Endpoints (see ``datasets.openapi.yaml``): ``GET /genome/taxon/{taxon}/dataset_report`` and
``GET /genome/accession/{acc}/dataset_report`` (snake_case JSON pages with ``next_page_token``), and
``GET /genome/accession/{acc}/download?include_annotation_type=GENOME_FASTA`` (a zip with
``ncbi_dataset/data/{acc}/*_genomic.fna`` and, in recent packages, a root ``md5sum.txt``).

Safety: every zip member name is checked before anything is extracted (no absolute paths, no ``..``, no
links); CRCs are tested and ``md5sum.txt`` entries verified; files reach their final name atomically.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import stat
import zipfile
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import DataError, UserFileNotFoundError
from ..io import atomic_path
from .config import DownloadConfig
from .http import DownloadError, HttpClient

_LEVELS = {
    "complete_genome": "complete_genome",
    "chromosome": "chromosome",
    "scaffold": "scaffold",
    "contig": "contig",
}
_ACCESSION = re.compile(r"^GC[AF]_\d{9}\.\d+$")


def _norm(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).lower()


def species_table(extra: Path | None = None) -> dict[str, int]:
    """The bundled species -> taxon id table, extended (and overridden) by a user JSON file."""
    text = resources.files("genomefactory").joinpath("data/species_taxonomy.json").read_text()
    table = {str(k): int(v) for k, v in json.loads(text).items()}
    if extra is not None:
        if not extra.is_file():
            raise UserFileNotFoundError(f"species_file {extra} not found")
        try:
            user = json.loads(extra.read_text())
            table.update({str(k): int(v) for k, v in user.items()})
        except (ValueError, TypeError, AttributeError) as exc:
            raise DataError(
                f'species_file {extra} must be a JSON object {{"Species name": taxon_id}}: {exc}'
            ) from exc
    return table


def taxon_for(species: str, table: dict[str, int]) -> int:
    lookup = {_norm(k): v for k, v in table.items()}
    key = _norm(species)
    if key in lookup:
        return lookup[key]
    close = difflib.get_close_matches(species, list(table), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise DataError(
        f"unknown species {species!r}.{hint} Give its NCBI taxon id under `taxa:`, or add "
        'it to a `species_file` JSON {"name": taxon_id}'
    )


def report_params(cfg: DownloadConfig, page_size: int) -> list[tuple[str, str]]:
    params = [
        ("filters.reference_only", str(cfg.reference_only).lower()),
        ("filters.assembly_source", cfg.source),
        ("page_size", str(page_size)),
    ]
    params += [("filters.assembly_level", _LEVELS[level]) for level in cfg.assembly_levels]
    return params


def dataset_reports(client: HttpClient, cfg: DownloadConfig, taxon: int) -> list[dict[str, Any]]:
    """Up to ``cfg.limit_per_taxon`` assembly reports of a taxon, following ``next_page_token``."""
    url = f"{cfg.base_url.rstrip('/')}/genome/taxon/{taxon}/dataset_report"
    base = report_params(cfg, min(1000, cfg.limit_per_taxon))
    reports: list[dict[str, Any]] = []
    token: str | None = None
    while len(reports) < cfg.limit_per_taxon:
        page = client.get_json(url, params=base + ([("page_token", token)] if token else []))
        reports.extend(page.get("reports", []))
        token = page.get("next_page_token")
        if not token:
            break
    if not reports:
        raise DownloadError(
            f"NCBI has no assembly for taxon {taxon} with reference_only={cfg.reference_only}, "
            f"levels={cfg.assembly_levels or 'any'}, source={cfg.source}; relax the filters"
        )
    return reports[: cfg.limit_per_taxon]


def check_accession(accession: str) -> None:
    if not _ACCESSION.match(accession):
        raise DataError(f"accession {accession!r} is not an assembly accession like GCF_001457455.1")


def accession_report(client: HttpClient, cfg: DownloadConfig, accession: str) -> dict[str, Any]:
    check_accession(accession)
    url = f"{cfg.base_url.rstrip('/')}/genome/accession/{accession}/dataset_report"
    reports = client.get_json(url).get("reports", [])
    if not reports:
        raise DownloadError(f"NCBI returned no dataset report for accession {accession}")
    return dict(reports[0])


def check_members(zf: zipfile.ZipFile, source: str) -> None:
    """Refuse the archive if any member could land outside the extraction folder or is a link."""
    for info in zf.infolist():
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        mode = info.external_attr >> 16
        if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name):
            raise DownloadError(
                f"{source}: refusing archive member {name!r} (path traversal); nothing extracted"
            )
        if stat.S_ISLNK(mode):
            raise DownloadError(
                f"{source}: refusing archive member {name!r} (symbolic link); nothing extracted"
            )


def _md5_table(zf: zipfile.ZipFile) -> dict[str, str]:
    names = {n for n in zf.namelist() if PurePosixPath(n).name == "md5sum.txt"}
    table: dict[str, str] = {}
    for n in names:
        for line in zf.read(n).decode().splitlines():
            if line.strip():
                digest, _, path = line.strip().partition(" ")
                table[path.strip().lstrip("*")] = digest.lower()
    return table


def extract_fasta(zip_path: Path, accession: str, dest_dir: Path) -> list[Path]:
    """Verify and extract the genomic FASTA(s) of ``accession`` into ``dest_dir``; returns their paths."""
    source = f"genome package {zip_path.name}"
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{source} is not a valid zip: {exc}") from exc
    with zf:
        check_members(zf, source)
        bad = zf.testzip()
        if bad is not None:
            raise DownloadError(f"{source}: CRC error in member {bad!r}")
        md5 = _md5_table(zf)
        wanted = [
            n
            for n in zf.namelist()
            if n.startswith(f"ncbi_dataset/data/{accession}/") and n.endswith((".fna", ".fa", ".fasta"))
        ]
        if not wanted:
            raise DownloadError(
                f"{source} holds no genomic FASTA under ncbi_dataset/data/{accession}/ "
                f"(members: {zf.namelist()[:10]})"
            )
        out = []
        for name in wanted:
            dest = dest_dir / PurePosixPath(name).name
            with atomic_path(dest) as tmp, zf.open(name) as src, open(tmp, "wb") as fh:
                h = hashlib.md5()
                while block := src.read(1 << 20):
                    h.update(block)
                    fh.write(block)
                expected = md5.get(name)
                if expected is not None and h.hexdigest() != expected:
                    raise DownloadError(
                        f"{source}: MD5 of {name} is {h.hexdigest()}, md5sum.txt says {expected}"
                    )
            out.append(dest)
    return out
