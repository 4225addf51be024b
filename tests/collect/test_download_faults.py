"""Download faults against the loopback NCBI server: Retry-After dates and junk, bodies cut short without a
Content-Length, honest messages about partial data, DNS failures that fail fast, clashing link names, and
requests checked before the output folder is made."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from genomefactory.collect.config import DownloadConfig, HttpConfig
from genomefactory.collect.download import run_download
from genomefactory.collect.http import DownloadError, HttpClient, retry_after_seconds
from genomefactory.errors import DataError

from .conftest import FAST_HTTP
from .ncbi_server import NCBIServer

CD = "GCF_001457455.1"
LAMBDA = "lambda_NC_001416.1.fasta.gz"
REPORT = "/genome/taxon/10710/dataset_report"


def cfg(ncbi: NCBIServer, out: Path, **kw: Any) -> DownloadConfig:
    return DownloadConfig.model_validate({"output_dir": out, "base_url": ncbi.url, "http": FAST_HTTP, **kw})


def client(waits: list[float], **kw: Any) -> HttpClient:
    settings = {"retries": 3, "backoff_s": 1.0, "max_wait_s": 5.0, "requests_per_second": 1000, **kw}
    return HttpClient(HttpConfig(**settings), sleep=waits.append)


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("Wed, 21 Oct 2015 07:28:00", 0.0, 0.0),  # a date without a zone (GMT), long past: no wait
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, 0.0),
        ("Fri, 01 Jan 2100 00:00:00", 5.0, 5.0),  # far future, no zone: capped at max_wait_s
        ("3", 3.0, 3.0),
        ("soon", 1.0, 1.25),  # neither seconds nor a date: the first backoff step (1 s plus jitter)
        ("nan", 1.0, 1.25),
        ("", 1.0, 1.25),
    ],
)
def test_retry_after_dates_and_junk(ncbi: NCBIServer, value: str, low: float, high: float) -> None:
    waits: list[float] = []
    ncbi.faults["report"] = [f"429:{value}"]
    page = client(waits).get_json(ncbi.url + REPORT)
    assert page["reports"] and len(waits) == 1
    assert low <= waits[0] <= high


def test_retry_after_parser() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00") is not None  # naive date: no TypeError
    assert retry_after_seconds("12.5") == 12.5
    assert retry_after_seconds("soon") is None and retry_after_seconds("inf") is None


def test_body_cut_short_without_content_length_is_resumed(ncbi: NCBIServer, tmp_path: Path) -> None:
    url = f"{ncbi.url}/files/{LAMBDA}"
    ncbi.faults[f"file:{LAMBDA}"] = ["cut_no_length"]
    res = run_download(cfg(ncbi, tmp_path / "dl", links=[url]))
    import gzip

    assert (tmp_path / "dl" / LAMBDA[:-3]).read_bytes() == gzip.decompress(ncbi.files[LAMBDA])
    ranges = [e["headers"].get("Range") for e in ncbi.log if e["path"].startswith("/files/")]
    half = len(ncbi.files[LAMBDA]) // 2
    # the cut body, the probe that finds more data, then the resume from where it stopped
    assert ranges == [None, f"bytes={half}-", f"bytes={half}-"]
    assert res.genomes[0].size == len(gzip.decompress(ncbi.files[LAMBDA]))


def test_complete_body_without_content_length_is_accepted(ncbi: NCBIServer, tmp_path: Path) -> None:
    url = f"{ncbi.url}/files/{LAMBDA}"
    ncbi.faults[f"file:{LAMBDA}"] = ["no_length"]
    run_download(cfg(ncbi, tmp_path / "dl", links=[url]))
    ranges = [e["headers"].get("Range") for e in ncbi.log if e["path"].startswith("/files/")]
    assert ranges == [None, f"bytes={len(ncbi.files[LAMBDA])}-"]  # the probe got 416: nothing follows
    assert all(e["headers"].get("Accept-Encoding") == "identity" for e in ncbi.log)


def test_failed_download_without_data_does_not_claim_a_part_file(ncbi: NCBIServer, tmp_path: Path) -> None:
    ncbi.faults[f"download:{CD}"] = ["500"] * 4
    with pytest.raises(DownloadError) as err:
        run_download(cfg(ncbi, tmp_path, accessions=[CD]))
    assert "partial data kept" not in str(err.value) and "nothing was kept" in str(err.value)
    assert not list(tmp_path.rglob("*.part"))


def test_dns_failure_fails_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def no_dns(*args: Any, **kw: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    waits: list[float] = []
    http = client(waits, retries=5)
    with pytest.raises(DownloadError, match=r"cannot resolve the host name 'genomes\.example\.invalid'"):
        http.get_json("http://genomes.example.invalid/genome/taxon/1/dataset_report")
    with pytest.raises(DownloadError, match="cannot resolve"):
        http.download("http://genomes.example.invalid/x.fa", tmp_path / "x.fa")
    assert http.waits == []  # no retry, no backoff (the sleeps left are request pacing)
    assert not list(tmp_path.iterdir())


def test_links_saved_under_one_name_are_refused_before_anything(ncbi: NCBIServer, tmp_path: Path) -> None:
    out = tmp_path / "dl"
    links = [f"{ncbi.url}/files/{LAMBDA}", f"{ncbi.url}/mirror/{LAMBDA[:-3]}"]  # both become lambda_...fasta
    with pytest.raises(DataError, match=r"would both be saved as 'lambda_NC_001416\.1\.fasta'"):
        run_download(cfg(ncbi, out, links=links))
    other = [
        f"{ncbi.url}/a/genome.fa",
        f"{ncbi.url}/b/genome.fna",
    ]  # two files, one genome name in genomes.json
    with pytest.raises(DataError, match="genome 'genome'"):
        run_download(cfg(ncbi, out, links=other))
    assert ncbi.log == [] and not out.exists()
    same = [f"{ncbi.url}/files/{LAMBDA}"] * 2  # the same link twice is one download
    res = run_download(cfg(ncbi, out, links=same))
    assert len(res.genomes) == 1


def test_request_checked_before_the_output_folder_is_made(ncbi: NCBIServer, tmp_path: Path) -> None:
    out = tmp_path / "dl"
    with pytest.raises(DataError, match="unknown species"):
        run_download(cfg(ncbi, out, species=["Homo sapien"]))
    with pytest.raises(DataError, match="not an assembly accession"):
        run_download(cfg(ncbi, out, accessions=["GCF_1"]))
    with pytest.raises(DownloadError, match="no assembly for taxon"):
        run_download(cfg(ncbi, out, taxa=[424242]))
    assert not out.exists()
