"""Atomic file writes and run manifests.

Every output is written to a temporary file in the destination folder and renamed into place, so an
interrupted run never leaves a half-written file under its final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_path", "atomic_write_json", "atomic_write_text", "sha256_file", "write_manifest"]


@contextlib.contextmanager
def atomic_path(dest: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; on success it is renamed to ``dest``, on error removed."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix or ".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(dest: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    with atomic_path(dest) as tmp, open(tmp, mode) as fh:
        yield fh


def atomic_write_text(dest: str | Path, text: str) -> None:
    with atomic_open(dest, "w") as fh:
        fh.write(text)


def atomic_write_json(dest: str | Path, obj: Any) -> None:
    atomic_write_text(dest, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict[str, str]:
    names = [
        "genomefactory",
        "torch",
        "transformers",
        "peft",
        "accelerate",
        "tokenizers",
        "safetensors",
        "numpy",
        "pandas",
        "scikit-learn",
    ]
    out: dict[str, str] = {"python": platform.python_version()}
    for n in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[n] = importlib.metadata.version(n)
    return out


def write_manifest(
    run_dir: str | Path,
    config: dict[str, Any],
    inputs: Sequence[str | Path],
    seed: int | None,
    command: str,
    name: str = "manifest.json",
) -> dict[str, Any]:
    """Write ``run_dir/name``: resolved config, package versions, input SHA-256s, seed, git commit.

    Under ``torchrun`` only global rank 0 writes it."""
    hashes: dict[str, str] = {}
    for p in inputs:
        path = Path(p)
        if path.is_file():
            hashes[str(path)] = sha256_file(path)
    manifest = {
        "command": command,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config,
        "seed": seed,
        "inputs_sha256": hashes,
        "versions": package_versions(),
        "git_commit": _git_commit(),
        "host": platform.node(),
    }
    if int(os.environ.get("RANK", "0")) == 0:
        atomic_write_json(Path(run_dir) / name, manifest)
    return manifest
