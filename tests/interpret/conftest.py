"""Fixtures of the interpretation tests: a real genome as background, the JASPAR database."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def lambda_genome(shared_data: Path) -> str:
    """Phage lambda (48.5 kb), upper-case, as one string (real genomic background for planted motifs)."""
    raw = gzip.decompress((shared_data / "genomes" / "lambda_NC_001416.1.fasta.gz").read_bytes()).decode()
    return "".join(line.strip() for line in raw.splitlines() if not line.startswith(">")).upper()


@pytest.fixture(scope="session")
def jaspar_db() -> object:
    pytest.importorskip("pyjaspar")
    from genomefactory.interpret.motifs import load_jaspar

    return load_jaspar("JASPAR2024", "CORE", ["vertebrates"])
