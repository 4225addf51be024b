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

from .config import ConfigError
from .errors import UserError, UserOSError

__all__ = [
    "OutputExistsError",
    "atomic_path",
    "atomic_write_json",
    "atomic_write_text",
    "check_output_dir",
    "check_output_file",
    "sha256_file",
    "write_manifest",
]


class OutputExistsError(UserError, FileExistsError):
    """An output folder already holds results and the command was not told to overwrite them."""


def _check_creatable(path: Path, key: str) -> None:
    """``path`` can be created: its nearest existing ancestor is a writable folder (nothing is created)."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UserOSError(f"{key} {path}: {parent} is a file, not a folder; choose another {key}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserOSError(f"{key} {path}: no permission to write in {parent}; choose another {key}")


def check_output_dir(
    path: str | Path, overwrite: bool, key: str = "output_dir", ignore: tuple[str, ...] = ()
) -> Path:
    """Refuse an output folder that already holds something (unless ``overwrite``), a file in its place, or a
    place that cannot be written. Creates nothing: a command checks its outputs before any work and makes
    folders last. ``ignore``: entries that do not count as earlier results (e.g. a download cache)."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UserOSError(f"{key} {out} exists and is not a folder; choose another {key}")
    if out.is_dir():
        held = sorted(p.name for p in out.iterdir() if p.name not in ignore)
        if held and not overwrite:
            shown = ", ".join(held[:5]) + (" ..." if len(held) > 5 else "")
            raise OutputExistsError(
                f"{key} {out} is not empty ({shown}); set overwrite=true to write over it, or choose another {key}"
            )
        if not os.access(out, os.W_OK | os.X_OK):
            raise UserOSError(f"{key} {out}: no permission to write in it; choose another {key}")
        return out
    _check_creatable(out, key)
    return out


def check_output_file(path: str | Path, key: str, suffixes: tuple[str, ...] = ()) -> Path:
    """An output file can be written: not a folder, a known suffix (when ``suffixes``), a writable place."""
    out = Path(path)
    if suffixes and out.suffix.lower() not in suffixes:
        raise ConfigError(
            f"{key} {out}: unknown suffix {out.suffix or '(none)'!r}; use {', '.join(suffixes)}"
        )
    if out.is_dir():
        raise UserOSError(f"{key} {out} is a folder; give a file name")
    if out.exists():
        if not os.access(out, os.W_OK) or not os.access(out.parent, os.W_OK | os.X_OK):
            raise UserOSError(f"{key} {out}: no permission to replace it; choose another {key}")
        return out
    _check_creatable(out, key)
    return out


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
