"""The README works as written: every fenced block marked ``<!-- readme-test: run -->`` (or ``run slow``) is run
exactly as shown, in order, in a fresh folder that holds only the repository's ``examples/`` — offline, with the
commands the README names (``genomefactory-cli``, ``python``) pointing at this checkout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- readme-test: run( slow)? -->\s*\n```(bash|python)\n(.*?)```", re.S)


def readme_blocks() -> list[tuple[bool, str, str]]:
    """(slow, language, code) of every marked block, in README order."""
    return [
        (bool(m.group(1)), m.group(2), m.group(3)) for m in BLOCK.finditer((ROOT / "README.md").read_text())
    ]


def _env(bin_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "NO_COLOR": "1", "OMP_NUM_THREADS": "1"})
    return env


def _run(lang: str, code: str, cwd: Path, env: dict[str, str]) -> None:
    if lang == "bash":
        cmd = ["bash", "-euo", "pipefail", "-c", code]
    else:
        script = cwd / "readme_snippet.py"
        script.write_text(code)
        cmd = [sys.executable, str(script)]
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, (
        f"README block failed ({done.returncode}):\n{code}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh folder with the repository's examples; the README's fast blocks already run in it."""
    work = tmp_path_factory.mktemp("readme")
    (work / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    bin_dir = work / ".bin"
    bin_dir.mkdir()
    for name, module in (("genomefactory-cli", "-m genomefactory.cli "), ("python", "")):
        tool = bin_dir / name
        tool.write_text(f'#!/bin/sh\nexec "{sys.executable}" {module}"$@"\n')
        tool.chmod(0o755)
    env = _env(bin_dir)
    for slow, lang, code in readme_blocks():
        if not slow:
            _run(lang, code, work, env)
    return work, env


def test_readme_marks_blocks_to_run() -> None:
    blocks = readme_blocks()
    assert sum(not s for s, *_ in blocks) >= 2 and sum(s for s, *_ in blocks) >= 2
    text = (ROOT / "README.md").read_text()
    assert (
        "../shared" not in text.split("## Development")[0]
    )  # nothing before Development needs the dev layout


def test_readme_fast_blocks_run(workspace: tuple[Path, dict[str, str]]) -> None:
    work, _ = workspace
    assert (work / "demo_output" / "data" / "train.csv").is_file()
    report = json.loads((work / "runs" / "species_dataset" / "qc_report.json").read_text())
    assert set(report["labels"].values()) == {"species_a", "species_b"}
    for split in ("train", "dev", "test"):
        assert set(report["split_counts_by_label"][split]) == {"0", "1"}


@pytest.mark.slow
def test_readme_slow_blocks_run(workspace: tuple[Path, dict[str, str]]) -> None:
    work, env = workspace
    for slow, lang, code in readme_blocks():
        if slow:
            _run(lang, code, work, env)
    metrics = json.loads((work / "runs" / "quickstart" / "metrics.json").read_text())
    assert metrics["test"]["mcc"] > 0.3, "the quickstart's tiny model should learn the synthetic task"
    assert (work / "runs" / "quickstart" / "predictions_new.csv").is_file()
    assert (work / "runs" / "quickstart" / "embeddings.parquet").is_file()
    report = (work / "runs" / "benchmark_custom" / "report.md").read_text()
    assert "not pretrained" in report
    assert (work / "runs" / "api" / "metrics.json").is_file()
