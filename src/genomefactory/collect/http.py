"""Robust HTTP for the collector: rate limit, retries with backoff, resumable verified downloads.

Retried: HTTP 429 (honouring ``Retry-After`` in seconds or as an HTTP date — a date without a zone is GMT — capped
at ``max_wait_s``; a value that is neither falls back to the exponential backoff), 5xx, timeouts, dropped
connections and bodies cut short (shorter than ``Content-Length``; without one, a ``Range`` request for what follows
the received bytes tells a complete body (416) from a cut one (206)). Not retried: other 4xx, and a host name that
does not resolve (a typo or no network: retrying cannot help, so it fails at once).

Downloads ask for the bytes as stored (``Accept-Encoding: identity``), stream into ``.<name>.part`` beside the
destination and resume from it with a ``Range`` request; a file appears under its final name only after its size
and checksum are verified (``os.replace``). A failed download leaves at most the ``.part`` file, never a file that
looks complete.
"""

from __future__ import annotations

import email.utils
import hashlib
import math
import os
import random
import re
import socket
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
from urllib3.exceptions import NameResolutionError

from ..errors import UserError
from .config import HttpConfig

RETRY_STATUS = {429, 500, 502, 503, 504}


class DownloadError(UserError, ValueError):
    """A request or download failed for good; the message names the URL and the reason."""


class HttpClient:
    """One session with NCBI-friendly pacing; ``sleep`` is injectable so tests need not wait."""

    def __init__(
        self, cfg: HttpConfig, api_key: str | None = None, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.cfg = cfg
        self.api_key = api_key
        self.sleep = sleep
        rate = cfg.requests_per_second or (10.0 if api_key else 5.0)
        self._interval = 1.0 / rate
        self._last = 0.0
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "genomefactory-collector"
        if api_key:
            self.session.headers["api-key"] = api_key
        self.waits: list[float] = []  # every backoff/Retry-After wait, for logs and tests

    def _pace(self) -> None:
        gap = self._interval - (time.monotonic() - self._last)
        if gap > 0:
            self.sleep(gap)
        self._last = time.monotonic()

    def _wait_for(self, attempt: int, response: requests.Response | None) -> float:
        retry_after = response.headers.get("Retry-After") if response is not None else None
        wait = retry_after_seconds(retry_after) if retry_after else None
        if wait is None:
            wait = self.cfg.backoff_s * (2**attempt) * (1 + 0.25 * random.random())
        wait = min(max(wait, 0.0), self.cfg.max_wait_s)
        self.waits.append(wait)
        return wait

    def request(
        self, url: str, params: Any = None, headers: dict[str, str] | None = None, stream: bool = False
    ) -> requests.Response:
        """GET with retries; returns a 2xx response or raises :class:`DownloadError`."""
        last = "no attempt made"
        for attempt in range(self.cfg.retries + 1):
            self._pace()
            response: requests.Response | None = None
            try:
                response = self.session.get(
                    url, params=params, headers=headers, stream=stream, timeout=self.cfg.timeout_s
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                _fail_fast_on_dns(exc, url)
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response
                last = f"HTTP {response.status_code}: {response.text[:200]!r}"
                if response.status_code not in RETRY_STATUS:
                    raise DownloadError(f"GET {response.url} failed with {last}")
            if attempt < self.cfg.retries:
                self.sleep(self._wait_for(attempt, response))
        raise DownloadError(f"GET {url} failed after {self.cfg.retries + 1} attempts; last error {last}")

    def get_json(self, url: str, params: Any = None) -> dict[str, Any]:
        r = self.request(url, params=params, headers={"Accept": "application/json"})
        try:
            data = r.json()
        except ValueError as exc:
            raise DownloadError(f"GET {r.url}: response is not JSON ({r.text[:200]!r})") from exc
        if not isinstance(data, dict):
            raise DownloadError(f"GET {r.url}: expected a JSON object, got {type(data).__name__}")
        return data

    def download(self, url: str, dest: Path, params: Any = None, sha256: str | None = None) -> str:
        """Stream ``url`` to ``dest`` (resuming ``.part``), verify size and SHA-256; returns the SHA-256."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(f".{dest.name}.part")
        last = "no attempt made"
        for attempt in range(self.cfg.retries + 1):
            try:
                self._fetch_into(url, part, params)
                break
            except _Retryable as exc:
                last = str(exc)
                if attempt < self.cfg.retries:
                    self.sleep(self._wait_for(attempt, exc.response))
        else:
            kept = part.is_file() and part.stat().st_size > 0
            if not kept:
                part.unlink(missing_ok=True)
            raise DownloadError(
                f"download of {url} failed after {self.cfg.retries + 1} attempts: {last}"
                + (f" (partial data kept in {part} for a later resume)" if kept else " (nothing was kept)")
            )
        digest = _sha256(part)
        if sha256 is not None and digest != sha256.lower():
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"checksum mismatch for {url}: expected SHA-256 {sha256}, got {digest}; the file was deleted"
            )
        os.replace(part, dest)
        return digest

    def _fetch_into(self, url: str, part: Path, params: Any) -> None:
        have = part.stat().st_size if part.exists() else 0
        headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={have}-"} if have else {})}
        r = self._get(url, params, headers)
        if r.status_code == 416 and have:  # our .part is already the whole file
            return
        if r.status_code in RETRY_STATUS:
            raise _Retryable(f"HTTP {r.status_code}", r)
        if r.status_code >= 400:
            raise DownloadError(f"GET {r.url} failed with HTTP {r.status_code}: {r.text[:200]!r}")
        append = r.status_code == 206
        if append and _range_start(r) not in (None, have):
            part.unlink(missing_ok=True)  # the server sent another range than asked: start over
            raise _Retryable(f"server answered a range starting at {_range_start(r)}, not {have}", None)
        expected = _expected_total(r, have if append else 0)
        done = self._stream(r, part, append, have if append else 0, expected)
        if expected is not None and done != expected:
            raise _Retryable(f"connection dropped: got {done} of {expected} bytes", None)
        if expected is None and not _encoded(r):
            self._confirm_complete(url, params, done)

    def _get(self, url: str, params: Any, headers: dict[str, str]) -> requests.Response:
        self._pace()
        try:
            return self.session.get(
                url, params=params, headers=headers, stream=True, timeout=self.cfg.timeout_s
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            _fail_fast_on_dns(exc, url)
            raise _Retryable(f"{type(exc).__name__}: {exc}", None) from exc

    def _stream(self, r: requests.Response, part: Path, append: bool, done: int, expected: int | None) -> int:
        with (
            open(part, "ab" if append else "wb") as fh,
            _progress(part.name[1:-5], expected, done, self.cfg.progress) as bar,
        ):
            try:
                for chunk in r.iter_content(chunk_size=1 << 16):
                    fh.write(chunk)
                    done += len(chunk)
                    bar(len(chunk))
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                raise _Retryable(f"connection dropped after {done} bytes: {exc}", None) from exc
        return done

    def _confirm_complete(self, url: str, params: Any, done: int) -> None:
        """A body without Content-Length ends where the connection closed, which a cut looks like: ask for the
        bytes after ``done``. 416: nothing follows (complete); 206: the body was cut short (resumed by a retry);
        200: the server ignores ranges and nothing can be compared (accepted)."""
        r = self._get(url, params, {"Accept-Encoding": "identity", "Range": f"bytes={done}-"})
        r.close()
        if r.status_code == 206:
            raise _Retryable(
                f"body ended after {done} bytes without a Content-Length, but the server has more", None
            )
        if r.status_code in RETRY_STATUS:
            raise _Retryable(f"HTTP {r.status_code} while checking the download is complete", r)


class _Retryable(Exception):
    def __init__(self, message: str, response: requests.Response | None) -> None:
        super().__init__(message)
        self.response = response


def retry_after_seconds(value: str) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP date (a date without a zone is GMT,
    as HTTP dates are); ``None`` when it is neither (the caller falls back to its backoff)."""
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return seconds if math.isfinite(seconds) else None


def _name_resolution_failed(exc: BaseException) -> bool:
    """True when the cause chain of a connection error is a failed DNS lookup."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (socket.gaierror, NameResolutionError)):
            return True
        links = (getattr(e, "reason", None), e.__cause__, e.__context__, *e.args)
        stack += [x for x in links if isinstance(x, BaseException)]
    return False


def _fail_fast_on_dns(exc: BaseException, url: str) -> None:
    if _name_resolution_failed(exc):
        from urllib.parse import urlparse

        host = urlparse(url).hostname or url
        raise DownloadError(
            f"cannot resolve the host name {host!r} of {url}: check the URL, your network and DNS "
            "(not retried: a name that does not resolve does not start resolving on a retry)"
        ) from None


def _encoded(r: requests.Response) -> bool:
    return r.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")


def _range_start(r: requests.Response) -> int | None:
    m = re.match(r"bytes (\d+)-\d+/(\d+|\*)", r.headers.get("Content-Range", ""))
    return int(m.group(1)) if m else None


def _expected_total(r: requests.Response, offset: int) -> int | None:
    if _encoded(r):
        return None  # requests decodes a content-encoded body, so the byte count differs
    m = re.match(r"bytes \d+-\d+/(\d+)", r.headers.get("Content-Range", ""))
    if r.status_code == 206 and m:
        return int(m.group(1))
    length = r.headers.get("Content-Length")
    return offset + int(length) if length is not None and length.strip().isdigit() else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


class _progress:
    """A rich progress bar on an interactive stderr; a no-op otherwise."""

    def __init__(self, name: str, total: int | None, done: int, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.name, self.total, self.done = name, total, done

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda n: None
        from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

        self._bar = Progress(
            *Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(), transient=True
        )
        self._bar.start()
        task = self._bar.add_task(self.name, total=self.total, completed=self.done)
        return lambda n: self._bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._bar.stop()
