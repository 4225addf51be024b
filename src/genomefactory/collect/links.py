"""Download a genome by plain http(s) link; ``.gz`` files are decompressed (atomically) after verification."""

from __future__ import annotations

import gzip
import shutil
import zlib
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..errors import DataError
from ..io import atomic_path
from .http import DownloadError, HttpClient


def link_filename(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise DataError(f"link {url!r} must start with http:// or https://")
    name = Path(unquote(parsed.path)).name
    if not name or name in (".", ".."):
        raise DataError(f"link {url!r} does not end in a file name")
    return name


def link_saved_as(name: str) -> str:
    """The name a link's file gets in the output folder (a ``.gz`` is stored decompressed)."""
    return name[:-3] if name.endswith(".gz") else name


def download_link(client: HttpClient, url: str, out_dir: Path, sha256: str | None = None) -> tuple[Path, str]:
    """Fetch ``url`` into ``out_dir`` (SHA-256 of the bytes served is checked if given); returns (path, sha256)."""
    name = link_filename(url)
    cache = out_dir / ".cache"
    raw = cache / name
    digest = client.download(url, raw, sha256=sha256)
    if not name.endswith(".gz"):
        dest = out_dir / name
        raw.replace(dest)
        return dest, digest
    dest = out_dir / link_saved_as(name)
    try:
        with atomic_path(dest) as tmp, gzip.open(raw, "rb") as src, open(tmp, "wb") as fh:
            shutil.copyfileobj(src, fh, length=1 << 20)
    except (OSError, EOFError, zlib.error) as exc:
        raw.unlink(missing_ok=True)
        raise DownloadError(f"{url}: not a valid gzip file ({exc}); removed the download") from exc
    raw.unlink()
    return dest, digest
