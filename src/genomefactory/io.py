"""Atomic file writes, run manifests, and opening the user's input files.

Every output is written to a temporary file in the destination folder and renamed into place, so an
interrupted run never leaves a half-written file under its final name.

Inputs (:func:`open_input`, :func:`open_input_text`): compression is recognised by the content, not the name
(gzip and bgzip are decompressed; bzip2, xz, zstd and zip are refused with a message saying so); an empty file,
binary bytes in a text file, non-UTF-8 text and damaged or truncated compressed data are one-line
:class:`~genomefactory.errors.UserError` s that name the file, also when they surface while the caller reads.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib.metadata
import io
import json
import os
import platform
import subprocess
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from .config import ConfigError
from .errors import DataError, UserError, UserFileNotFoundError, UserOSError

__all__ = [
    "OutputExistsError",
    "atomic_path",
    "atomic_write_json",
    "atomic_write_text",
    "check_output_dir",
    "check_output_file",
    "input_file",
    "open_input",
    "open_input_text",
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


_REFUSED_MAGIC = {
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"PK\x03\x04": "a zip archive",
}


def _umask() -> int:
    """The process's umask, read without changing it where the OS says it (Linux), else set and restored."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
        if tmp_path.is_file():
            # mkstemp makes the file 0600; a finished output gets the mode any new file would (umask applied), so
            # the owner's group can read results as with every other tool
            os.chmod(tmp_path, 0o666 & ~_umask())
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


def input_file(path: str | Path, what: str | None = None) -> Path:
    """``path`` as a Path when it names an existing file; else a UserFileNotFoundError (prefixed ``what: ``)."""
    p = Path(path)
    if not str(path) or not p.is_file():
        where = f"{what}: " if what else ""
        kind = "is a folder, not a file" if str(path) and p.is_dir() else "not found"
        raise UserFileNotFoundError(f"{where}file {str(path)!r} {kind}")
    return p


@contextlib.contextmanager
def open_input(path: str | Path, what: str | None = None, text: bool = False) -> Iterator[IO[bytes]]:
    """The bytes of an input file, gzip decompressed by content (see the module docstring).

    Failures while the ``with`` body reads (truncated gzip, I/O errors, undecodable text) become user errors
    naming the file. ``text=True`` also refuses a file whose first block holds NUL bytes (a binary file).
    """
    p = input_file(path, what)
    try:
        raw = open(p, "rb")  # noqa: SIM115  (closed in the finally below)
    except OSError as exc:
        raise UserOSError(f"{p}: cannot open ({exc.strerror or exc})") from None
    try:
        with _named_errors(p):
            yield _decompressed(raw, p, text)
    finally:
        raw.close()


@contextlib.contextmanager
def open_input_text(path: str | Path, what: str | None = None) -> Iterator[IO[str]]:
    """An input file as UTF-8 text (a byte-order mark is skipped); see :func:`open_input`."""
    with open_input(path, what, text=True) as stream:
        yield io.TextIOWrapper(stream, encoding="utf-8-sig")


@contextlib.contextmanager
def _named_errors(p: Path) -> Iterator[None]:
    try:
        yield
    except UserError:
        raise
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(
            f"{p}: the gzip data is damaged or cut short ({exc}); download or compress the file again"
        ) from None
    except UnicodeDecodeError:
        raise DataError(
            f"{p} is not UTF-8 text (a binary file, or compressed in a format other than gzip?)"
        ) from None
    except OSError as exc:
        raise UserOSError(f"{p}: cannot read ({exc.strerror or exc})") from None


def _decompressed(raw: io.BufferedReader, p: Path, text: bool) -> IO[bytes]:
    magic = raw.peek(8)[:8]
    stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if magic.startswith(b"\x1f\x8b") else raw
    for mark, name in _REFUSED_MAGIC.items():
        if magic.startswith(mark):
            raise DataError(f"{p} is {name} data; decompress it (or recompress it with gzip) first")
    head = stream.peek(4096)
    if not head:
        raise DataError(f"{p} is empty" + (" (no data after decompression)" if stream is not raw else ""))
    if text and b"\x00" in head:
        raise DataError(f"{p} is a binary file, not text")
    return stream  # type: ignore[no-any-return]
