"""Genome reading and fragment sampling on ``uint8`` byte arrays (one byte per base, no per-base Python loop).

Conventions: bases are upper-case IUPAC bytes; fragments and contig coordinates are 0-based half-open
``[start, start + length)``. A :class:`SeqBatch` holds fragments as a 0-padded ``(n, max_len)`` byte matrix plus
per-row ``lengths``, integer ``labels``, split ``groups`` (rows of one group always land in the same split) and
loci ``(contig, start)`` so overlap between splits can be checked.

Splitting without overlap: each contig is cut into blocks; a fragment lies entirely inside one block and the
block is its group, so fragments of different splits can never share a base. Fragments are drawn from N-free
stretches only (an assembly gap is never sampled), and every class gets at least one group in every split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..io import open_input
from ..sequence import IUPAC, SequenceError

_UPPER = bytes.maketrans(b"acgtnryswkmbdhvu", b"ACGTNRYSWKMBDHVU")
_VALID = np.zeros(256, dtype=bool)
_VALID[np.frombuffer(IUPAC.encode(), dtype=np.uint8)] = True
_IUPAC_BYTES = IUPAC.encode()
_GENBANK_SUFFIXES = {".gb", ".gbk", ".gbff", ".genbank"}
_N = ord("N")


@dataclass
class Contig:
    name: str
    seq: np.ndarray  # (length,) uint8 upper-case IUPAC


def _read_bytes(path: Path) -> bytes:
    # gzip recognised by content; a truncated or damaged .gz, or an empty file, is a DataError naming the file
    with open_input(path, "genome") as fh:
        return bytes(fh.read())


def _to_array(raw: bytes, where: str) -> np.ndarray:
    upper = raw.translate(_UPPER)
    arr = np.frombuffer(upper, dtype=np.uint8)
    if upper.translate(None, _IUPAC_BYTES):  # something is left: find where (rare path)
        bad = np.flatnonzero(~_VALID[arr])
        i = int(bad[0])
        raise SequenceError(
            f"{where}: invalid character {chr(arr[i])!r} at position {i}; allowed are IUPAC codes {IUPAC}"
        )
    return arr


def _parse_fasta(data: bytes, path: Path) -> list[Contig]:
    if not data.lstrip().startswith(b">"):
        raise SequenceError(f"{path}: not a FASTA file (no '>' header at the start)")
    contigs = []
    for n, rec in enumerate(data.lstrip()[1:].split(b"\n>"), start=1):
        header, _, body = rec.partition(b"\n")
        name = header.decode(errors="replace").split()[0] if header.strip() else f"seq{n}"
        seq = _to_array(body.translate(None, b"\r\n \t"), f"{path} record {n} ({name})")
        if seq.size == 0:
            raise SequenceError(f"{path} record {n} ({name}) has no sequence after its '>' header")
        contigs.append(Contig(name, seq))
    return contigs


def _parse_genbank(data: bytes, path: Path) -> list[Contig]:
    contigs = []
    for n, rec in enumerate(data.split(b"\n//"), start=1):
        if b"ORIGIN" not in rec:
            continue
        head, _, origin = rec.partition(b"\nORIGIN")
        name = f"record{n}"
        for line in head.splitlines():
            if line.startswith((b"VERSION", b"LOCUS")):
                parts = line.split()
                if len(parts) > 1:
                    name = parts[1].decode(errors="replace")
                if line.startswith(b"VERSION"):
                    break
        body = origin.partition(b"\n")[2].translate(None, b"0123456789 \r\n\t")
        contigs.append(Contig(name, _to_array(body, f"{path} record {n} ({name})")))
    if not contigs:
        raise SequenceError(f"{path}: GenBank file without an ORIGIN sequence section")
    return contigs


def read_genome(path: str | Path) -> list[Contig]:
    """All contigs of a FASTA (optionally gzipped) or GenBank file as upper-case byte arrays."""
    p = Path(path)
    data = _read_bytes(p)
    suffixes = {s.lower() for s in p.suffixes}
    if suffixes & _GENBANK_SUFFIXES or data.startswith(b"LOCUS"):
        return _parse_genbank(data, p)
    return _parse_fasta(data, p)


@dataclass
class SeqBatch:
    """Fragments as a padded byte matrix; see the module docstring for the meaning of each array."""

    mat: np.ndarray  # (n, max_len) uint8, 0 past each row's length
    lengths: np.ndarray  # (n,) int64
    labels: np.ndarray  # (n,) int64
    groups: np.ndarray  # (n,) int64
    contig: np.ndarray  # (n,) int64 global contig id
    start: np.ndarray  # (n,) int64
    counts: np.ndarray | None = None  # (n, 5) A/C/G/T/ambiguous counts, cached by qc.base_counts

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def take(self, idx: np.ndarray) -> SeqBatch:
        return SeqBatch(
            self.mat[idx],
            self.lengths[idx],
            self.labels[idx],
            self.groups[idx],
            self.contig[idx],
            self.start[idx],
            None if self.counts is None else self.counts[idx],
        )

    def row(self, i: int) -> bytes:
        return self.mat[i, : self.lengths[i]].tobytes()

    def sequences(self) -> list[str]:
        return [self.row(i).decode("ascii") for i in range(len(self))]

    @staticmethod
    def concat(batches: list[SeqBatch]) -> SeqBatch:
        width = max(b.mat.shape[1] for b in batches)
        mats = [np.pad(b.mat, ((0, 0), (0, width - b.mat.shape[1]))) for b in batches]
        return SeqBatch(
            np.concatenate(mats),
            *(
                np.concatenate([getattr(b, f) for b in batches])
                for f in ("lengths", "labels", "groups", "contig", "start")
            ),
        )

    @staticmethod
    def from_sequences(
        seqs: list[bytes], labels: np.ndarray, groups: np.ndarray, contig: np.ndarray, start: np.ndarray
    ) -> SeqBatch:
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        width = int(lengths.max()) if len(seqs) else 1
        mat = np.zeros((len(seqs), width), dtype=np.uint8)
        flat = np.frombuffer(b"".join(seqs), dtype=np.uint8)
        mask = np.arange(width)[None, :] < lengths[:, None]
        mat[mask] = flat
        return SeqBatch(
            mat,
            lengths,
            labels.astype(np.int64),
            groups.astype(np.int64),
            contig.astype(np.int64),
            start.astype(np.int64),
        )


def make_blocks(
    lengths: list[int], min_block: int, n_blocks_target: int = 100
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut contigs into blocks of at least ``min_block`` bp: returns (contig index, start, end) arrays."""
    total = sum(lengths)
    size = max(min_block, total // n_blocks_target)
    ci, bs, be = [], [], []
    for i, n in enumerate(lengths):
        starts = np.arange(0, n, size, dtype=np.int64)
        ends = np.minimum(starts + size, n)
        if starts.size > 1 and ends[-1] - starts[-1] < size // 2:  # fold a stub into its neighbour
            ends[-2] = ends[-1]
            starts, ends = starts[:-1], ends[:-1]
        ci.append(np.full(starts.size, i, dtype=np.int64))
        bs.append(starts)
        be.append(ends)
    return np.concatenate(ci), np.concatenate(bs), np.concatenate(be)


def _zero_tails(mat: np.ndarray, lengths: np.ndarray) -> None:
    """Set ``mat[i, lengths[i]:] = 0`` for every row, in place.

    The byte mask of a row of length L is the window ``[w - L, 2w - L)`` of ``0xFF * w + 0x00 * w``: masks are
    copied out of a 2w-byte array that stays in cache, then ANDed in, a few hundred rows at a time.
    """
    w = mat.shape[1]
    ones_then_zeros = np.zeros(2 * w, dtype=np.uint8)
    ones_then_zeros[:w] = 0xFF
    masks = np.lib.stride_tricks.sliding_window_view(ones_then_zeros, w)
    step = max(1, (1 << 18) // max(w, 1))
    for lo in range(0, mat.shape[0], step):
        sub = mat[lo : lo + step]
        np.bitwise_and(sub, masks[w - lengths[lo : lo + step]], out=sub)


@dataclass
class SamplingStats:
    """What fragment sampling could use of a genome (bp): reported per genome in ``qc_report.json``."""

    bases: int  # every base of every contig
    n_bases: int  # N bases (assembly gaps): never inside a fragment
    gaps: int  # runs of N
    too_short_bp: (
        int  # N-free bases in pieces shorter than the longest fragment (short contigs, between gaps)
    )
    sampleable_bp: int  # bases that can lie inside a fragment

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _n_free(seq: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """N-free stretches ``[start, end)`` of a contig, its N count and its number of N runs."""
    isn = seq == _N
    if not isn.any():
        return np.array([0], dtype=np.int64), np.array([seq.size], dtype=np.int64), 0, 0
    edges = np.diff(np.concatenate([[1], isn.view(np.int8), [1]]).astype(np.int8))
    starts, ends = np.flatnonzero(edges == -1), np.flatnonzero(edges == 1)
    runs = int(np.count_nonzero(isn[1:] & ~isn[:-1])) + int(isn[0])
    return starts.astype(np.int64), ends.astype(np.int64), int(isn.sum()), runs


def sampling_segments(
    contigs: list[Contig], max_len: int
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], SamplingStats]:
    """Where a ``max_len`` window may start: (contig, block, first start, number of starts) per N-free piece of a
    block, in block order, and what was left out. A genome without N gives exactly its blocks."""
    ci, bs, be = make_blocks([c.seq.size for c in contigs], 3 * max_len)
    seg_c, seg_b, seg_s, seg_e = [], [], [], []
    n_bases = gaps = 0
    for c, contig in enumerate(contigs):
        lo, hi = np.searchsorted(ci, c, "left"), np.searchsorted(ci, c, "right")
        starts, ends, n, runs = _n_free(contig.seq)
        n_bases, gaps = n_bases + n, gaps + runs
        for b in range(int(lo), int(hi)):
            i0, i1 = np.searchsorted(ends, bs[b], "right"), np.searchsorted(starts, be[b], "left")
            seg_s.append(np.maximum(starts[i0:i1], bs[b]))
            seg_e.append(np.minimum(ends[i0:i1], be[b]))
            seg_c.append(np.full(i1 - i0, c, dtype=np.int64))
            seg_b.append(np.full(i1 - i0, b, dtype=np.int64))
    cat = [np.concatenate(x) if x else np.zeros(0, dtype=np.int64) for x in (seg_c, seg_b, seg_s, seg_e)]
    sc, sb, ss, se = cat
    room = se - ss - max_len + 1
    ok = room > 0
    total = int(sum(c.seq.size for c in contigs))
    sampleable = int((se - ss)[ok].sum())
    stats = SamplingStats(total, n_bases, gaps, total - n_bases - sampleable, sampleable)
    return (sc[ok], sb[ok], ss[ok], room[ok]), stats


def sample_fragments(
    contigs: list[Contig],
    n: int,
    min_len: int,
    max_len: int,
    label: int,
    rng: np.random.Generator,
    contig_offset: int = 0,
    group_offset: int = 0,
    stats: list[SamplingStats] | None = None,
) -> SeqBatch:
    """``n`` fragments of uniform length in ``[min_len, max_len]`` from uniformly random N-free positions.

    Each fragment lies inside one block (its group) of at least ``3 * max_len`` bp and inside one N-free stretch
    (assembly gaps are never sampled); pieces shorter than ``max_len`` contribute nothing. Raises if no piece can
    hold a fragment. What was left out is appended to ``stats`` when given.
    """
    (ci, blocks, seg_start, room), info = sampling_segments(contigs, max_len)
    if stats is not None:
        stats.append(info)
    if room.size == 0:
        longest = max(c.seq.size for c in contigs)
        raise DataError(
            f"no N-free stretch is long enough for {max_len} bp fragments (longest contig {longest} bp, "
            f"{info.n_bases} N bases in {info.gaps} gap(s)); use shorter fragments"
        )
    cum = np.cumsum(room)
    u = rng.integers(0, cum[-1], size=n)
    seg = np.searchsorted(cum, u, side="right")
    starts = seg_start[seg] + (u - (cum[seg] - room[seg]))
    lengths = rng.integers(min_len, max_len + 1, size=n).astype(np.int64)
    mat = np.zeros((n, max_len), dtype=np.uint8)
    for c in np.unique(ci[seg]):
        rows = np.flatnonzero(ci[seg] == c)
        windows = np.lib.stride_tricks.sliding_window_view(contigs[int(c)].seq, max_len)
        mat[rows] = windows[starts[rows]]
    _zero_tails(mat, lengths)
    return SeqBatch(
        mat,
        lengths,
        np.full(n, label, dtype=np.int64),
        blocks[seg] + group_offset,
        ci[seg] + contig_offset,
        starts,
    )


def _fill_empty_splits(
    split_of_group: np.ndarray, members: np.ndarray, sizes: np.ndarray, needed: list[int]
) -> None:
    """Give every needed split at least one of ``members``' groups, taking the smallest group of the split that
    has the most (possible whenever there are at least as many groups as needed splits)."""
    for k in needed:
        mine = split_of_group[members]
        if (mine == k).any():
            continue
        donor = max(needed, key=lambda j: int((mine == j).sum()))
        idx = np.flatnonzero(mine == donor)
        split_of_group[members[idx[np.argmin(sizes[idx])]]] = k


def assign_splits(
    groups: np.ndarray,
    labels: np.ndarray,
    fractions: tuple[float, float, float],
    rng: np.random.Generator,
    names: dict[int, str] | None = None,
) -> np.ndarray:
    """Split id per row (0 train, 1 dev, 2 test), stratified by label; whole groups move together.

    A group's stratum is the label of its first row; within a stratum groups are shuffled and cut at the
    cumulative row fractions. Every class gets at least one group in every split with a fraction above 0 (the
    cut can leave a small split without one: the split with most groups then gives up its smallest); a class
    with fewer groups than such splits is an error naming it.
    """
    uniq, first, inverse, counts = np.unique(
        groups, return_index=True, return_inverse=True, return_counts=True
    )
    stratum = labels[first]
    needed = [k for k in range(3) if fractions[k] > 0]
    split_of_group = np.empty(uniq.size, dtype=np.int64)
    for lab in np.unique(stratum):
        members = rng.permutation(np.flatnonzero(stratum == lab))
        sizes = counts[members]
        if members.size < len(needed):
            raise DataError(_too_few_groups(int(lab), members.size, int(sizes.sum()), needed, names))
        cum_before = np.cumsum(sizes) - sizes
        total = sizes.sum()
        cut1, cut2 = fractions[0] * total, (fractions[0] + fractions[1]) * total
        split_of_group[members] = np.where(cum_before < cut1, 0, np.where(cum_before < cut2, 1, 2))
        _fill_empty_splits(split_of_group, members, counts[members], needed)
    split = split_of_group[inverse]
    check_classes_in_splits(split, labels, fractions, names)
    return split


_SPLIT_NAMES = ("train", "dev", "test")


def _class_name(lab: int, names: dict[int, str] | None) -> str:
    return f"class {names[lab]!r} (label {lab})" if names and lab in names else f"class {lab}"


def _too_few_groups(
    lab: int, n_groups: int, rows: int, needed: list[int], names: dict[int, str] | None
) -> str:
    return (
        f"{_class_name(lab, names)} has only {n_groups} independent group(s) of non-overlapping regions "
        f"({rows} sequences) but each of the splits {', '.join(_SPLIT_NAMES[k] for k in needed)} needs one of "
        "its own (no two splits share a base); give that class more or longer sequence (a longer genome, more "
        "genomes), use shorter fragments (genome blocks are 3 x species.length.max), or drop a split (split.dev: 0)"
    )


def check_classes_in_splits(
    split: np.ndarray, labels: np.ndarray, fractions: tuple[float, float, float], names: dict[int, str] | None
) -> None:
    """Refuse a split in which a class is missing from a split that has a fraction above 0."""
    for k, name in enumerate(_SPLIT_NAMES):
        if fractions[k] <= 0:
            continue
        present = set(np.unique(labels[split == k]).tolist())
        missing = [int(lab) for lab in np.unique(labels) if int(lab) not in present]
        if missing:
            raise DataError(
                f"split '{name}' has no sequence of {', '.join(_class_name(m, names) for m in missing)}: "
                "every class must be in every split; give those classes more sequence or use other split fractions"
            )
