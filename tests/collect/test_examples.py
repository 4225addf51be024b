"""The collector's example recipes load strictly; process_normal runs through the CLI; download feeds process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from genomefactory.collect.config import DownloadConfig, ProcessConfig
from genomefactory.collect.download import run_download
from genomefactory.collect.process import run_process
from genomefactory.config import load_config

from .conftest import FAST_HTTP
from .ncbi_server import NCBIServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "download_by_species.yaml": DownloadConfig,
    "download_by_link.yaml": DownloadConfig,
    "process_normal.yaml": ProcessConfig,
    "process_promoter.yaml": ProcessConfig,
    "process_enhancer.yaml": ProcessConfig,
    "process_emp.yaml": ProcessConfig,
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_loads(name: str) -> None:
    cfg = load_config(EXAMPLES[name], ROOT / "examples" / name)
    if isinstance(cfg, ProcessConfig) and cfg.task != "species":
        assert cfg.region is not None and cfg.region.species == "human"


def test_process_normal_through_cli(shared_data: Path, tmp_path: Path) -> None:
    from genomefactory.cli import main

    # the example reads a `download` folder: one here names three real genomes by organism, as genomes.json does
    folder = tmp_path / "downloads"
    folder.mkdir()
    genomes = {
        "lambda_NC_001416.1.fasta.gz": "phage_lambda",
        "GCF_001457455.1_NCTC11397_genomic.fna.gz": "c_diphtheriae",
        "NC_000932.gb": "a_thaliana_chloroplast",
    }
    listing = [{"path": str(shared_data / "genomes" / f), "organism": o} for f, o in genomes.items()]
    (folder / "genomes.json").write_text(json.dumps(listing))
    tmp_path = tmp_path / "out"
    cwd = os.getcwd()
    os.chdir(ROOT)  # the example's paths are relative to the repository root
    try:
        code = main(
            [
                "process",
                "examples/process_normal.yaml",
                f"output_dir={tmp_path}",
                f"species.input_dir={folder}",
                "species.fragments_per_species=200",
                "plots=true",
            ]
        )
    finally:
        os.chdir(cwd)
    assert code == 0
    rep = json.loads((tmp_path / "qc_report.json").read_text())
    assert rep["survival"] >= 0.95 and set(rep["labels"].values()) == {
        "phage_lambda",
        "c_diphtheriae",
        "a_thaliana_chloroplast",
    }
    assert (tmp_path / "gc_histogram.png").stat().st_size > 1000
    assert (tmp_path / "length_histogram.png").read_bytes()[:4] == b"\x89PNG"


def test_download_folder_feeds_process(ncbi: NCBIServer, tmp_path: Path) -> None:
    dl = DownloadConfig.model_validate(
        {
            "output_dir": tmp_path / "dl",
            "base_url": ncbi.url,
            "http": FAST_HTTP,
            "species": ["Corynebacterium diphtheriae", "Escherichia virus Lambda"],
        }
    )
    run_download(dl)
    cfg = ProcessConfig.model_validate(
        {
            "output_dir": tmp_path / "ds",
            "plots": False,
            "species": {
                "input_dir": tmp_path / "dl",
                "fragments_per_species": 300,
                "length": {"min": 200, "max": 400},
            },
        }
    )
    res = run_process(cfg)
    assert res.labels == {0: "Corynebacterium diphtheriae", 1: "Escherichia virus Lambda"}
    assert sum(res.counts.values()) >= 0.95 * 600
