"""Sharded scoring: ``torchrun --nproc_per_node 2 -m genomefactory.cli variants`` (gloo, CPU) writes the same
output, in input order, as one process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from genomefactory.variants.output import read_scores
from genomefactory.variants.run import run_variants

from .conftest import LAMBDA
from .helpers import OTHER, config

TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not installed")
def test_two_ranks_match_one_process(tmp_path: Path, lambda_fa: Path, lambda_seq: str) -> None:
    rows = [
        (LAMBDA, p + 1, lambda_seq[p], OTHER[lambda_seq[p]]) for p in range(100, 48000, 1370)
    ]  # 35 records
    rows.insert(7, ("chrMissing", 5, "A", "C"))
    inp = tmp_path / "v.tsv"
    inp.write_text("chrom\tpos\tref\talt\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    data = {
        "model": {"family": "nucleotide_transformer", "init": "tiny"},
        "input": str(inp),
        "genome": str(lambda_fa),
        "scores": ["masked_marginal", "embedding"],
        "window": {"size": 60},
        "compute": {"chunk_size": 8, "batch_size": 4, "progress": False},
    }
    cfg_file = tmp_path / "ddp.yaml"
    cfg_file.write_text(yaml.safe_dump({**data, "output": str(tmp_path / "ddp.parquet")}))
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    proc = subprocess.run(
        [
            str(TORCHRUN),
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "genomefactory.cli",
            "variants",
            str(cfg_file),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    single = run_variants(config(None, **{**data, "output": str(tmp_path / "one.parquet")}))
    a, b = read_scores(single.output), read_scores(tmp_path / "ddp.parquet")
    assert a["record"].is_monotonic_increasing and len(a) == 3 * 36
    pd.testing.assert_frame_equal(a, b, check_exact=False, atol=1e-6)
    assert not (tmp_path / "ddp.parquet.parts").exists()
