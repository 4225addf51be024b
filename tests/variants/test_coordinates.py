"""Coordinates: variants planted into a real genome (phage lambda) through VCF and TSV files; the windows and
alleles the scorer builds are checked against the genome (1-based input, 0-based windows, both strands, first and
last base, indels re-centred, tiles shared, NT 6-mer frames)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from genomefactory.sequence import reverse_complement
from genomefactory.variants.io import open_variants
from genomefactory.variants.reference import Reference
from genomefactory.variants.windows import WindowBuilder, check_site

from .conftest import LAMBDA
from .helpers import OTHER, write_tsv


def _plant(seq: str, n: int, seed: int = 0) -> list[tuple[int, str, str]]:
    """(0-based start, REF, ALT): the first and last base, random SNVs, a deletion, an insertion, an MNV."""
    rng = random.Random(seed)
    out = [(0, seq[0], OTHER[seq[0]]), (len(seq) - 1, seq[-1], OTHER[seq[-1]])]
    for p in rng.sample(range(1, len(seq) - 10), n):
        out.append((p, seq[p], OTHER[seq[p]]))
    out += [
        (300, seq[300:304], seq[300]),
        (400, seq[400], seq[400] + "TTG"),
        (500, seq[500:502], "".join(OTHER[b] for b in seq[500:502])),
    ]
    return out


def _vcf(path: Path, planted: list[tuple[int, str, str]], length: int) -> Path:
    head = f"##fileformat=VCFv4.2\n##contig=<ID={LAMBDA},length={length}>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    rows = sorted(planted)
    path.write_text(head + "".join(f"{LAMBDA}\t{p + 1}\tv{p}\t{r}\t{a}\t.\t.\t.\n" for p, r, a in rows))
    return path


@pytest.mark.parametrize("kind", ["vcf", "tsv"])
def test_planted_variants_round_trip(
    kind: str, tmp_path: Path, lambda_ref: Reference, lambda_seq: str
) -> None:
    planted = sorted(_plant(lambda_seq, 40))
    if kind == "vcf":
        path = _vcf(tmp_path / "p.vcf", planted, len(lambda_seq))
    else:
        path = write_tsv(tmp_path / "p.tsv", [(LAMBDA, p + 1, r.lower(), a) for p, r, a in planted])
    source = open_variants(path)
    assert source.validate() == len(planted)
    variants = [v for chunk in source.chunks(7) for v in chunk]
    assert [(v.start, v.ref, v.alt) for v in variants] == planted
    builder = WindowBuilder(lambda_ref, size=101, tile=16)
    for v in variants:
        assert check_site(v, lambda_ref) == "ok"
        w = builder.build(v)
        assert w is not None
        assert w.ref_seq == lambda_seq[w.start : w.end]
        assert w.ref_seq[w.offset : w.offset + len(v.ref)] == v.ref
        assert w.alt_seq == w.ref_seq[: w.offset] + v.alt + w.ref_seq[w.offset + len(v.ref) :]
        assert len(w.alt_seq) == len(w.ref_seq) - len(v.ref) + len(v.alt)
        if v.is_snv:
            centre = (v.start // 16) * 16 + 8
            lo, hi = centre - 50, centre + 51
        else:  # re-centred: equal flanks around REF
            lo = v.start - (101 - len(v.ref)) // 2
            hi = lo + 101
        assert (w.start, w.end) == (max(lo, 0), min(hi, len(lambda_seq)))
        assert w.clipped == (lo < 0 or hi > len(lambda_seq))
        # minus strand: the same variant read on the reverse complement
        rc = w.reverse_complement()
        assert rc.ref_seq == reverse_complement(w.ref_seq) and rc.alt_seq == reverse_complement(w.alt_seq)
        assert rc.ref_seq[rc.offset : rc.offset + len(v.ref)] == reverse_complement(v.ref)
        assert rc.alt_seq[rc.offset : rc.offset + len(v.alt)] == reverse_complement(v.alt)
        assert rc.reverse_complement() == w


def test_first_and_last_base_windows_clipped(lambda_ref: Reference, lambda_seq: str) -> None:
    from genomefactory.variants.records import Variant

    n = len(lambda_seq)
    builder = WindowBuilder(lambda_ref, size=60, tile=1)
    first = builder.build(Variant(0, 1, LAMBDA, 1, lambda_seq[0], OTHER[lambda_seq[0]]))
    last = builder.build(Variant(1, 1, LAMBDA, n, lambda_seq[-1], OTHER[lambda_seq[-1]]))
    inner = builder.build(Variant(2, 1, LAMBDA, 1001, lambda_seq[1000], OTHER[lambda_seq[1000]]))
    assert first is not None and last is not None and inner is not None
    assert (first.start, first.end, first.offset, first.clipped) == (0, 30, 0, True)
    assert (last.start, last.end, last.offset, last.clipped) == (n - 31, n, 30, True)
    assert (inner.start, inner.end, inner.offset, inner.clipped) == (970, 1030, 30, False)


def test_tiles_share_the_reference_window(lambda_ref: Reference, lambda_seq: str) -> None:
    from genomefactory.variants.records import Variant

    builder = WindowBuilder(lambda_ref, size=64, tile=16)
    ws = [
        builder.build(Variant(i, 1, LAMBDA, p + 1, lambda_seq[p], OTHER[lambda_seq[p]]))
        for i, p in enumerate(range(32, 48))
    ]
    assert len({(w.start, w.end) for w in ws if w}) == 1 and [w.offset for w in ws if w] == list(
        range(32 - 8, 48 - 8)
    )
    other = builder.build(Variant(99, 1, LAMBDA, 49, lambda_seq[48], "A" if lambda_seq[48] != "A" else "C"))
    assert other is not None and other.start == 48 + 8 - 32


def test_nt_frames_on_both_strands(lambda_ref: Reference, lambda_seq: str) -> None:
    """The masked NT token holds the SNV in the window's frame on + and on - (RC window re-tokenized)."""
    from genomefactory.variants.engine import load_handle
    from genomefactory.variants.records import Variant
    from genomefactory.variants.scores.masked import plan_masked

    from .helpers import config

    handle = load_handle(config("nucleotide_transformer").model)
    frames = set()
    for size in (60, 63, 65):
        builder = WindowBuilder(lambda_ref, size=size, tile=1)
        for p in (2, 3, 5, 2000, len(lambda_seq) - 4):
            w = builder.build(Variant(0, 1, LAMBDA, p + 1, lambda_seq[p], OTHER[lambda_seq[p]]))
            assert w is not None
            for ww in (w, w.reverse_complement()):
                plan = plan_masked(handle, ww)
                a, b = plan.span
                assert a <= ww.offset < b and ww.ref_seq[a:b] == handle.tok.convert_ids_to_tokens(
                    plan.ref_token
                )
                frames.add((ww.strand, ww.offset - a))
    assert {f for s, f in frames if s == "+"} >= {0, 5} and {f for s, f in frames if s == "-"} >= {0, 5}
