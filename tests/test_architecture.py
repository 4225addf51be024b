"""The architecture holds: the import-linter contract (layers, no cycles) and a torch-free CLI start."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contract_is_kept() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = [str(exe)] if exe.is_file() else [shutil.which("lint-imports") or "lint-imports"]
    proc = subprocess.run([*cmd, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


HEAVY = ("torch", "transformers", "gradio", "peft")


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["models"],
        ["help", "--help"],
        *[[name, "--help"] for name in ("train", "inference", "benchmark", "process", "download", "webui")],
    ],
    ids=lambda a: " ".join(a),
)
def test_cli_help_imports_no_heavy_package(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from genomefactory.cli import main\n"
        f"rc = main({argv!r})\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert rc == 0, rc\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
