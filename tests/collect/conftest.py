"""Fixtures of the collector tests: a loopback NCBI server with real genomes, fast HTTP settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from genomefactory.collect.segment import read_genome

from .ncbi_server import NCBIServer


@pytest.fixture()
def ncbi(shared_data: Path) -> Iterator[NCBIServer]:
    server = NCBIServer(shared_data / "genomes").start()
    try:
        yield server
    finally:
        server.stop()


FAST_HTTP = {
    "timeout_s": 10,
    "retries": 3,
    "backoff_s": 0.001,
    "max_wait_s": 0.01,
    "requests_per_second": 1000,
    "progress": False,
}


@pytest.fixture(scope="module")
def real_dna(shared_data: Path) -> str:
    """A real bacterial chromosome (NCTC 11397) as one upper-case string."""
    (contig,) = read_genome(shared_data / "genomes" / "GCF_001457455.1_NCTC11397_genomic.fna.gz")
    return contig.seq.tobytes().decode()
