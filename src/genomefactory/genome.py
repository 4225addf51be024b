"""Indexed random access to a reference FASTA (``pyfaidx``), opened the same way by every command.

A genome is a plain FASTA or a bgzip (BGZF) compressed one with its ``.fai`` (and ``.gzi``) index; pyfaidx builds a
missing index beside the file. A plain-gzip FASTA cannot be indexed: it is refused up front with the command that
fixes it, not with pyfaidx's or Biopython's error from deep inside. Sequences are read upper-case; coordinates are
0-based half-open ``[start, end)`` on the ``+`` strand (callers reverse-complement for ``-``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import DataError, UserFileNotFoundError, missing_extra

__all__ = ["compression", "open_genome"]

_GZIP_MAGIC = b"\x1f\x8b"


def compression(path: Path) -> str:
    """``"bgzip"``, ``"gzip"`` or ``"none"``, from the file's first bytes (the suffix is not trusted)."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    if head[:2] != _GZIP_MAGIC:
        return "none"
    # BGZF: FEXTRA flag set and an extra subfield with identifiers 'B' 'C' (SAM/BAM spec, section 4.1).
    if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC":
        return "bgzip"
    return "gzip"


def open_genome(
    path: str | Path,
    *,
    what: str = "genome",
    key_function: Callable[[str], str] | None = None,
    duplicate_action: str = "stop",
    rebuild: bool = True,
) -> Any:
    """A ``pyfaidx.Fasta`` (``as_raw``, upper-case) of ``path``; a clear error for a missing or un-indexable file.

    ``what`` names the file's role in messages (e.g. ``"genome"``, ``"genomes[hg38]"``).
    """
    import pyfaidx

    p = Path(path)
    if not str(path) or not p.is_file():
        raise UserFileNotFoundError(f"{what}: FASTA file {str(path)!r} not found")
    kind = compression(p)
    if kind == "gzip":
        raise DataError(
            f"{what} {p} is plain gzip, not bgzip (BGZF), so it cannot be indexed for random access; run `gunzip {p}` or "
            f"recompress it with `bgzip` (e.g. `zcat {p.name} | bgzip > {p.stem}.bgz.fa.gz`) and point at the result"
        )
    if kind == "bgzip":
        try:
            import Bio.bgzf  # noqa: F401  (pyfaidx reads BGZF through Biopython)
        except ImportError:
            raise missing_extra(f"reading the bgzip-compressed {what} {p}", "biopython") from None
    fai = Path(f"{p}.fai")
    had_index = fai.exists()
    try:
        return pyfaidx.Fasta(
            str(p),
            key_function=key_function or (lambda k: k),
            as_raw=True,
            sequence_always_upper=True,
            duplicate_action=duplicate_action,
            rebuild=rebuild,
        )
    except (
        pyfaidx.FastaIndexingError,
        pyfaidx.UnsupportedCompressionFormat,
        ValueError,
        UnicodeError,
    ) as exc:
        if not had_index:
            # pyfaidx writes the index before it finds e.g. a duplicate name: leave no index of a refused file
            fai.unlink(missing_ok=True)
        raise _unreadable(p, what, exc) from None


def _unreadable(p: Path, what: str, exc: Exception) -> DataError:
    """The one error for a file pyfaidx cannot index, saying what is wrong and how to fix it."""
    text = str(exc)
    if text.startswith("Duplicate key"):
        return DataError(
            f"{what} {p}: record name {text.removeprefix('Duplicate key').strip()} occurs twice; "
            "FASTA record names (the header's first word) must be unique — rename or remove the copy"
        )
    if p.suffix.lower() in {".gz", ".bgz", ".bgzf"}:
        return DataError(
            f"{what} {p} is named as compressed but is not gzip/bgzip data; rename it without the "
            f"{p.suffix} suffix if it is plain FASTA, or compress it with bgzip"
        )
    return DataError(
        f"{what} {p} is not a readable FASTA file ({type(exc).__name__}: {text}); expected '>name' header "
        "lines followed by sequence lines (plain, or bgzipped with .fai/.gzi)"
    )
