"""Downloads against a loopback NCBI server: filters, paging, checksums, resume and fault injection."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from genomefactory.collect.config import DownloadConfig, HttpConfig
from genomefactory.collect.download import run_download
from genomefactory.collect.http import DownloadError, HttpClient
from genomefactory.config import ConfigError, load_config

from .conftest import FAST_HTTP
from .ncbi_server import NCBIServer

CD = "GCF_001457455.1"
CD_NAME = "GCF_001457455.1_NCTC11397_genomic.fna"


def cfg(ncbi: NCBIServer, out: Path, **kw: Any) -> DownloadConfig:
    return DownloadConfig.model_validate({"output_dir": out, "base_url": ncbi.url, "http": FAST_HTTP, **kw})


def final_files(out: Path) -> list[str]:
    """Files that look complete (no dot-prefixed temp/partial files)."""
    return sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")
    )


def test_species_reference_filter_keeps_ncbi_name_and_checksum(ncbi: NCBIServer, tmp_path: Path) -> None:
    res = run_download(cfg(ncbi, tmp_path, species=["corynebacterium_diphtheriae"]))
    assert [g.accession for g in res.genomes] == [
        CD
    ]  # the GenBank twin and the contig assembly are filtered out
    fna = tmp_path / CD / CD_NAME
    assert fna.read_bytes() == ncbi.fasta_bytes(CD)
    rec = json.loads((tmp_path / "genomes.json").read_text())[0]
    assert rec["sha256"] == hashlib.sha256(ncbi.fasta_bytes(CD)).hexdigest()
    assert (rec["taxon"], rec["level"], rec["organism"]) == (
        1717,
        "Complete Genome",
        "Corynebacterium diphtheriae",
    )
    assert rec["size"] == fna.stat().st_size and rec["source_url"].endswith(
        f"/genome/accession/{CD}/download"
    )
    report_q = next(e["query"] for e in ncbi.log if e["path"].endswith("/genome/taxon/1717/dataset_report"))
    assert report_q["filters.reference_only"] == ["true"]
    assert (tmp_path / "manifest.json").is_file()
    assert not (tmp_path / ".cache").exists()
    again = run_download(cfg(ncbi, tmp_path, species=["Corynebacterium diphtheriae"]))
    assert again.skipped == [CD] and again.genomes == []


def test_paging_level_and_limit(ncbi: NCBIServer, tmp_path: Path) -> None:
    c = cfg(ncbi, tmp_path, taxa=[1717], reference_only=False, limit_per_taxon=3)
    from genomefactory.collect.ncbi import dataset_reports

    reports = dataset_reports(HttpClient(c.http), c, 1717)
    assert [r["accession"] for r in reports] == [CD, "GCA_001457455.1", "GCF_900000001.1"]
    tokens = [e["query"].get("page_token") for e in ncbi.log]
    assert tokens == [None, ["2"]]  # the server caps pages at 2: the client followed next_page_token
    c2 = cfg(
        ncbi,
        tmp_path,
        taxa=[1717],
        reference_only=False,
        limit_per_taxon=5,
        assembly_levels=["contig"],
        source="refseq",
    )
    assert [r["accession"] for r in dataset_reports(HttpClient(c2.http), c2, 1717)] == ["GCF_900000001.1"]
    assert ncbi.log[-1]["query"]["filters.assembly_level"] == ["contig"]


def test_retry_after_is_honoured_and_capped(ncbi: NCBIServer) -> None:
    waits: list[float] = []
    client = HttpClient(HttpConfig(retries=3, max_wait_s=5.0, requests_per_second=1000), sleep=waits.append)
    ncbi.faults["report"] = ["429", "500"]
    page = client.get_json(f"{ncbi.url}/genome/taxon/10710/dataset_report")
    assert page["reports"][0]["accession"] == "GCF_000840245.1"
    assert waits[0] == 5.0  # Retry-After: 7 capped at max_wait_s
    assert 1.0 <= waits[1] <= 2 * 1.25  # exponential backoff on the 500
    ncbi.faults["report"] = ["500"] * 4
    with pytest.raises(DownloadError, match=r"after 4 attempts.*HTTP 500"):
        client.get_json(f"{ncbi.url}/genome/taxon/10710/dataset_report")


def test_not_found_is_not_retried(ncbi: NCBIServer) -> None:
    client = HttpClient(HttpConfig(retries=3, requests_per_second=1000), sleep=lambda s: None)
    with pytest.raises(DownloadError, match="HTTP 404"):
        client.get_json(f"{ncbi.url}/genome/nothing/here")
    assert len(ncbi.log) == 1


def test_dropped_connection_resumes_with_range(ncbi: NCBIServer, tmp_path: Path) -> None:
    ncbi.faults[f"download:{CD}"] = ["500", "drop"]
    ncbi.faults["report"] = ["429"]
    res = run_download(cfg(ncbi, tmp_path, accessions=[CD]))
    assert (tmp_path / CD / CD_NAME).read_bytes() == ncbi.fasta_bytes(CD)
    downloads = [e for e in ncbi.log if e["path"].endswith("/download")]
    assert len(downloads) == 3 and downloads[-1]["headers"].get("Range", "").startswith("bytes=")
    assert int(downloads[-1]["headers"]["Range"][6:-1]) > 0
    assert res.genomes[0].accession == CD


def test_failed_download_leaves_nothing_complete_then_resumes(ncbi: NCBIServer, tmp_path: Path) -> None:
    ncbi.faults[f"download:{CD}"] = ["drop"] * 4
    with pytest.raises(DownloadError, match="partial data kept"):
        run_download(cfg(ncbi, tmp_path, accessions=[CD]))
    assert final_files(tmp_path) == []  # only the hidden .part survives
    assert list((tmp_path / ".cache").glob(".*.part"))
    run_download(cfg(ncbi, tmp_path, accessions=[CD]))
    last = [e for e in ncbi.log if e["path"].endswith("/download")][-1]
    assert last["headers"].get("Range", "bytes=0-") != "bytes=0-"  # resumed, not restarted
    assert (tmp_path / CD / CD_NAME).read_bytes() == ncbi.fasta_bytes(CD)


@pytest.mark.parametrize(("fault", "message"), [("bad_md5", "MD5 of"), ("traversal", "path traversal")])
def test_bad_packages_fail_cleanly(ncbi: NCBIServer, tmp_path: Path, fault: str, message: str) -> None:
    ncbi.faults[f"download:{CD}"] = [fault]
    out = tmp_path / "dl"
    with pytest.raises(DownloadError, match=message):
        run_download(cfg(ncbi, out, accessions=[CD]))
    assert final_files(out) == []
    assert not (tmp_path / "evil.txt").exists() and not list(tmp_path.rglob("evil.txt"))


def test_link_gz_decompressed_with_checksum(ncbi: NCBIServer, tmp_path: Path, shared_data: Path) -> None:
    src = shared_data / "genomes" / "lambda_NC_001416.1.fasta.gz"
    url = f"{ncbi.url}/files/{src.name}"
    good = hashlib.sha256(src.read_bytes()).hexdigest()
    ncbi.faults[f"file:{src.name}"] = ["drop"]
    res = run_download(cfg(ncbi, tmp_path, links=[url], checksums={url: good}))
    import gzip

    assert (tmp_path / "lambda_NC_001416.1.fasta").read_bytes() == gzip.decompress(src.read_bytes())
    assert res.genomes[0].source_url == url
    bad = tmp_path / "bad"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        run_download(cfg(ncbi, bad, links=[url], checksums={url: "0" * 64}))
    assert final_files(bad) == [] and not list(bad.rglob("*.part"))


def test_config_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nothing to download"):
        load_config(DownloadConfig, overrides={"output_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="unknown key 'specie'"):
        load_config(DownloadConfig, overrides={"specie": ["Homo sapiens"]})
    from genomefactory.collect.ncbi import species_table, taxon_for

    with pytest.raises(ValueError, match="Did you mean 'Homo sapiens'"):
        taxon_for("Homo sapien", species_table())
    extra = tmp_path / "more.json"
    extra.write_text('{"Thermus thermophilus": 274}')
    assert taxon_for("thermus_thermophilus", species_table(extra)) == 274
