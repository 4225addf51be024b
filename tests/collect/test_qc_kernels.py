"""The vectorised QC kernels against plain per-row reference implementations, on real genome fragments.

The fragments come from lambda and the Arabidopsis chloroplast, with lengths from 1 to 700 bp (matrix widths that
are not multiples of 8, rows shorter than the 32-base hash window), IUPAC codes sprinkled in, and exact and
reverse-complement copies of some rows appended; one batch has rows longer than 2040 bp so the byte-lane sums
run over several column blocks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genomefactory.collect.config import QCConfig
from genomefactory.collect.leakage import leakage_check
from genomefactory.collect.qc import (
    QCError,
    base_counts,
    duplicate_candidates,
    kmer_counts,
    kmer_profiles,
    run_qc,
    step_duplicates,
)
from genomefactory.collect.segment import SeqBatch, read_genome, sample_fragments
from genomefactory.sequence import reverse_complement

IUPAC_NOISE = "NRYSWKMBDHV"
CODE = {"A": 0, "C": 1, "T": 2, "G": 3}  # column order of kmer_counts: (byte >> 1) & 3


def ref_base_counts(seqs: list[str]) -> np.ndarray:
    return np.array([[s.count(c) for c in "ACGT"] + [len(s) - sum(s.count(c) for c in "ACGT")] for s in seqs])


def ref_kmer_counts(seqs: list[str], k: int) -> np.ndarray:
    out = np.zeros((len(seqs), 4**k), dtype=np.int64)
    for i, s in enumerate(seqs):
        for j in range(len(s) - k + 1):
            word = s[j : j + k]
            if all(c in CODE for c in word):
                out[i, sum(CODE[c] * 4 ** (k - 1 - t) for t, c in enumerate(word))] += 1
    return out


def ref_duplicates(seqs: list[str]) -> tuple[np.ndarray, int, int]:
    """The original per-row rule: drop a row seen before, else one whose strand-canonical form was seen."""
    seen: set[str] = set()
    canon: set[str] = set()
    keep = np.ones(len(seqs), dtype=bool)
    exact = rc = 0
    for i, s in enumerate(seqs):
        key = min(s, reverse_complement(s))
        if s in seen:
            exact, keep[i] = exact + 1, False
        elif key in canon:
            rc, keep[i] = rc + 1, False
        seen.add(s)
        canon.add(key)
    return keep, exact, rc


def make_batch(seqs: list[str]) -> SeqBatch:
    n = len(seqs)
    return SeqBatch.from_sequences(
        [s.encode() for s in seqs], np.zeros(n), np.arange(n), np.zeros(n), np.zeros(n)
    )


@pytest.fixture(scope="module")
def fragments(shared_data: Path) -> list[str]:
    rng = np.random.default_rng(7)
    genomes = [
        c.seq.tobytes().decode()
        for name in ("lambda_NC_001416.1.fasta.gz", "NC_000932.gb")
        for c in read_genome(shared_data / "genomes" / name)
    ]
    seqs = []
    for i in range(260):
        g = genomes[i % 2]
        length = int(rng.integers(1, 40)) if i % 5 == 0 else int(rng.integers(40, 700))
        start = int(rng.integers(0, len(g) - length))
        s = list(g[start : start + length])
        for _ in range(int(rng.integers(0, 4)) if i % 3 == 0 else 0):
            s[int(rng.integers(0, length))] = str(rng.choice(list(IUPAC_NOISE)))
        seqs.append("".join(s))
    picks = rng.choice(len(seqs), size=30, replace=False)
    seqs += [seqs[i] for i in picks[:10]]  # exact copies
    seqs += [reverse_complement(seqs[i]) for i in picks[10:]]  # other strand, some with IUPAC codes
    seqs.append(seqs[-1])  # an exact copy of a reverse-complement copy
    short = [i for i in range(260) if 1 < len(seqs[i]) < 32][:3]
    seqs += [reverse_complement(seqs[i]) for i in short] + ["A", "T"]  # shorter than the hash window
    order = rng.permutation(len(seqs))
    return [seqs[i] for i in order]


def test_base_and_kmer_counts_match_reference(fragments: list[str]) -> None:
    b = make_batch(fragments)
    assert b.mat.shape[1] % 8 != 0 and any(s.count("N") > 0 for s in fragments)
    np.testing.assert_array_equal(base_counts(b), ref_base_counts(fragments))
    for k in (1, 2, 3, 4):
        ref = ref_kmer_counts(fragments, k)
        np.testing.assert_array_equal(kmer_counts(b, k), ref, err_msg=f"k={k}")
        np.testing.assert_array_equal(
            kmer_profiles(b, k), ref / np.maximum(ref.sum(axis=1, keepdims=True), 1)
        )


def test_counts_on_rows_longer_than_one_lane_block(shared_data: Path) -> None:
    lam = read_genome(shared_data / "genomes" / "lambda_NC_001416.1.fasta.gz")[0].seq.tobytes().decode()
    seqs = [
        lam[:5003],
        lam[9000:11500].replace("GATC", "GNTC"),
        lam[20000:20001],
        "A" * 3000 + lam[30000:31100],
    ]
    b = make_batch(seqs)
    assert b.mat.shape[1] > 2 * 255 * 8  # three column blocks of 255 words; a byte lane would overflow in one
    np.testing.assert_array_equal(base_counts(b), ref_base_counts(seqs))
    for k in (2, 3):
        np.testing.assert_array_equal(kmer_counts(b, k), ref_kmer_counts(seqs, k))


def test_duplicates_match_reference(fragments: list[str]) -> None:
    keep, exact, rc = ref_duplicates(fragments)
    assert exact >= 11 and rc >= 22  # the planted copies are there to be found
    _, kept_mask, e = step_duplicates(make_batch(fragments), QCConfig(), np.random.default_rng(0))
    np.testing.assert_array_equal(kept_mask, keep)
    assert e["reasons"] == {"exact_duplicate": exact, "reverse_complement_duplicate": rc}
    out, _ = run_qc(make_batch(fragments), QCConfig(steps=["duplicates"]), np.random.default_rng(0))
    assert out.sequences() == [s for s, k in zip(fragments, keep, strict=True) if k]


def test_hash_collisions_never_drop_a_row(fragments: list[str]) -> None:
    """Rows with equal ends and equal base counts share a hash; only byte-identical ones may go."""
    base = next(s for s in fragments if len(s) > 200 and set(s) <= set("ACGT"))
    middle = base[32:-32]
    variants = [
        base[:32] + middle[i:] + middle[:i] + base[-32:] for i in range(0, 60, 3)
    ]  # same counts, ends
    variants = list(dict.fromkeys(variants))
    seqs = [*variants, variants[0], reverse_complement(variants[1])]
    b = make_batch(seqs)
    assert duplicate_candidates(b).size == len(seqs)  # every row collides with every other
    _, keep, e = step_duplicates(b, QCConfig(), np.random.default_rng(0))
    assert keep.tolist() == [True] * len(variants) + [False, False]
    assert e["reasons"] == {"exact_duplicate": 1, "reverse_complement_duplicate": 1}


def test_leakage_check_matches_reference(fragments: list[str]) -> None:
    rng = np.random.default_rng(1)
    split = rng.integers(0, 3, size=len(fragments))
    owner: dict[str, int] = {}
    shared = sum(
        owner.setdefault(min(s, reverse_complement(s)), int(sp)) != sp
        for s, sp in zip(fragments, split, strict=True)
    )
    b = make_batch(fragments)
    b.start[:] = np.arange(len(fragments)) * 1000  # loci never overlap: only shared sequences count
    assert shared > 0
    with pytest.raises(QCError, match=rf"\b{shared} sequence\(s\) shared"):
        leakage_check(b, split)
    keep, _, _ = ref_duplicates(fragments)
    unique = make_batch([s for s, k in zip(fragments, keep, strict=True) if k])
    unique.start[:] = np.arange(len(unique)) * 1000
    assert leakage_check(unique, rng.integers(0, 3, size=len(unique))) == {
        "shared_sequences": 0,
        "overlapping_loci": 0,
    }


def test_run_qc_compaction_leaves_callers_batch_and_matches_take(fragments: list[str]) -> None:
    """Several steps remove rows: the first copies the survivors, later ones compact that copy in place."""
    b = make_batch(fragments)
    before = b.mat.copy()
    cfg = QCConfig(steps=["length", "gc", "duplicates"], min_length=40, gc_min=0.3)
    out, report = run_qc(b, cfg, np.random.default_rng(0))
    assert all(e["removed"] > 0 for e in report)
    np.testing.assert_array_equal(b.mat, before)
    gc = (base_counts(b)[:, 1] + base_counts(b)[:, 2]) / np.maximum(base_counts(b)[:, :4].sum(axis=1), 1)
    long_enough = [s for s, g in zip(fragments, gc, strict=True) if len(s) >= 40 and g >= 0.3]
    keep, _, _ = ref_duplicates(long_enough)
    expected = [s for s, k in zip(long_enough, keep, strict=True) if k]
    assert out.sequences() == expected
    np.testing.assert_array_equal(out.counts, ref_base_counts(expected))
    assert not out.mat[np.arange(out.mat.shape[1])[None, :] >= out.lengths[:, None]].any()


def test_sampled_fragments_are_zero_padded_genome_windows(shared_data: Path) -> None:
    contigs = read_genome(shared_data / "genomes" / "NC_000932.gb")
    b = sample_fragments(contigs, 500, 50, 301, 0, np.random.default_rng(3))
    genome = contigs[0].seq
    for i in range(len(b)):
        n = int(b.lengths[i])
        np.testing.assert_array_equal(b.mat[i, :n], genome[b.start[i] : b.start[i] + n])
        assert not b.mat[i, n:].any()


def test_chi2_3df_tail_and_median_match_scipy() -> None:
    """The closed form that replaced scipy.stats (imported only here, by the test) is the same distribution."""
    from scipy import stats

    from genomefactory.collect import qc as qc_mod

    x = np.concatenate([np.linspace(0, 60, 601), [1e-9, 0.5, 100.0, 250.0]])
    np.testing.assert_allclose(qc_mod.chi2_sf_3df(x), stats.chi2.sf(x, df=3), rtol=1e-9, atol=1e-300)
    assert pytest.approx(float(stats.chi2.median(3)), rel=1e-12) == qc_mod._CHI2_MEDIAN_3DF
