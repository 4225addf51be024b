"""The reference genome (``pyfaidx``) and the mapping of input chromosome names to its contigs.

Contig names are the first word of each FASTA header. Sequences are read upper-case, 0-based half-open
``[start, end)``, reference (``+``) orientation. Input names are matched exactly unless the user asks for a
mapping: ``chrom_map`` (explicit pairs, applied first), then ``chrom_names`` (``add_chr``: ``1`` -> ``chr1``,
``strip_chr``: ``chr1`` -> ``1``). Nothing is guessed: a name that does not match is an ``unknown_contig`` status,
and :meth:`Reference.hint` suggests the option that would have matched it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UserError, UserFileNotFoundError, UserOSError

__all__ = ["GenomeError", "Reference"]


class GenomeError(UserError, ValueError):
    """The reference FASTA cannot be read (format, compression, index)."""


def _open_fasta(path: Path) -> object:
    import pyfaidx

    from ..genome import open_genome

    fai = Path(f"{path}.fai")
    if not fai.is_file() and not os.access(path.parent, os.W_OK):
        raise UserOSError(
            f"genome {path} has no index {fai.name} and its folder is not writable, so the index cannot be "
            f"built; create it where the FASTA is (samtools faidx {path.name}) or copy the FASTA to a writable "
            "folder"
        )
    try:
        return open_genome(path, rebuild=False, duplicate_action="stop")
    except UserError:
        raise
    except pyfaidx.UnsupportedCompressionFormat as exc:
        raise GenomeError(
            f"genome {path} is gzip-compressed but not bgzip (BGZF) compressed, which indexed reading needs: "
            f"gunzip it, or recompress with bgzip ({exc})"
        ) from None
    except PermissionError as exc:
        raise UserOSError(f"genome {path}: cannot read it or write its index ({exc})") from None
    except (pyfaidx.FastaIndexingError, ValueError, UnicodeDecodeError, OSError) as exc:
        raise GenomeError(
            f"genome {path} is not a readable FASTA file ({type(exc).__name__}: {exc}); expected '>name' "
            "header lines followed by sequence lines (plain, or bgzipped with .fai/.gzi)"
        ) from None


class Reference:
    """Indexed random access to a FASTA genome with the configured chromosome-name mapping."""

    def __init__(self, path: str | Path, chrom_names: str = "exact", chrom_map: dict[str, str] | None = None):
        p = Path(path)
        if not str(path) or not p.is_file():
            raise UserFileNotFoundError(f"genome: FASTA file {str(path)!r} not found")
        self.path = p
        self.fasta = _open_fasta(p)
        self.lengths: dict[str, int] = {
            name: len(rec)  # type: ignore[attr-defined]
            for name, rec in self.fasta.records.items()  # type: ignore[attr-defined]
        }
        if not self.lengths:
            raise GenomeError(f"genome {p} holds no sequences (no '>' header lines)")
        self.chrom_names = chrom_names
        self.chrom_map = dict(chrom_map or {})
        self._resolved: dict[str, str | None] = {}

    def resolve(self, chrom: str) -> str | None:
        """The genome contig an input chromosome name refers to, or None."""
        if chrom in self._resolved:
            return self._resolved[chrom]
        name = self.chrom_map.get(chrom, chrom)
        if chrom not in self.chrom_map:
            if self.chrom_names == "add_chr" and not name.startswith("chr"):
                name = "chr" + name
            elif self.chrom_names == "strip_chr" and name.startswith("chr"):
                name = name[3:]
        out = name if name in self.lengths else None
        self._resolved[chrom] = out
        return out

    def hint(self, chrom: str) -> str:
        """Why ``chrom`` did not match and which option would match it (never applied automatically)."""
        if chrom.startswith("chr") and chrom[3:] in self.lengths:
            return f"the genome has '{chrom[3:]}': set chrom_names: strip_chr"
        if "chr" + chrom in self.lengths:
            return f"the genome has 'chr{chrom}': set chrom_names: add_chr"
        few = ", ".join(list(self.lengths)[:5])
        return (
            f"the genome's contigs are {few}{' ...' if len(self.lengths) > 5 else ''}; map it with chrom_map"
        )

    def length(self, contig: str) -> int:
        return self.lengths[contig]

    def fetch(self, contig: str, start: int, end: int) -> str:
        """Upper-case bases ``[start, end)`` of ``contig`` (0-based half-open, reference orientation)."""
        if start < 0 or end > self.lengths[contig] or start > end:
            raise IndexError(
                f"{contig}:[{start}, {end}) is outside the contig (length {self.lengths[contig]})"
            )
        if start == end:
            return ""
        return str(self.fasta[contig][start:end])  # type: ignore[index]

    def close(self) -> None:
        close = getattr(self.fasta, "close", None)
        if callable(close):
            close()
