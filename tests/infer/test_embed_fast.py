"""The batched embedding path against a brute-force one-sequence-at-a-time embedding, and the numpy k-mer ids
against the tokenizer they stand in for."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from genomefactory.infer.embed import Embedder
from genomefactory.models import ModelConfig, load_backbone
from genomefactory.models.encoding import BatchEncoder, KmerIds
from genomefactory.models.pooling import pool
from genomefactory.models.registry import all_families

FAMILIES = ["nucleotide_transformer", "nucleotide_transformer_v2", "hyenadna", "dnabert2", "genomeocean"]
CHAR_OR_KMER = [f.name for f in all_families() if f.tokenizer_kind in ("char", "kmer")]


def _dna(n: int, rng: random.Random, alphabet: str = "ACGT") -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _brute_force(emb: Embedder, seq: str, how: str) -> np.ndarray:
    """What the embedding of one sequence is by definition: tokenize it alone, run it alone, pool its tokens."""
    enc = emb.tok(seq, return_tensors="pt", add_special_tokens=True)
    mask = torch.ones_like(enc["input_ids"])
    with torch.no_grad():
        out = emb.backbone.family.encode(emb.base, enc["input_ids"], mask)
    hidden = out.last_hidden_state.float()
    return pool(hidden, mask, how)[0].numpy()


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("how", ["mean", "max", "cls", "last", "token"])
def test_batched_embedding_equals_one_at_a_time(family: str, how: str) -> None:
    """Length-sorted padded batches, restored to input order, equal the per-sequence embedding (1e-5)."""
    bb = load_backbone(ModelConfig(family=family, init="tiny"))
    rng = random.Random(3)
    # mixed lengths (unsorted), a k-mer remainder, N and IUPAC letters (the tokenizer path), duplicates
    seqs = [_dna(rng.randint(5, 90), rng) for _ in range(11)] + [
        "ACGTNNACGTRY" * 3,
        "ACGT" * 7,
        "ACGT" * 7,
        "G",
    ]
    rng.shuffle(seqs)
    emb = Embedder(bb, how, batch_size=4)
    vecs, wins, ntok = emb.embed(seqs)
    assert wins == [1] * len(seqs)
    for seq, vec, n in zip(seqs, vecs, ntok, strict=True):
        ref = _brute_force(emb, seq, how)
        np.testing.assert_allclose(vec, ref, atol=1e-5, rtol=1e-5)
        assert n == len(emb.tok(seq)["input_ids"])


@pytest.mark.parametrize("family", CHAR_OR_KMER)
def test_numpy_kmer_ids_equal_the_tokenizer(family: str) -> None:
    bb = load_backbone(ModelConfig(family=family, init="tiny"))
    fam = bb.family
    k = fam.kmer if fam.tokenizer_kind == "kmer" else 1
    enc = BatchEncoder(bb.tokenizer)
    fast = KmerIds(bb.tokenizer, k or 1, enc)
    assert fast.ok
    rng = random.Random(1)
    seqs = [_dna(n, rng) for n in range(1, 40)] + [_dna(200, rng), "ACGTN", "acgt", "ACGT-A", ""]
    got = fast.ids(seqs)
    want = [e[0] for e in enc.encode(seqs)]
    for s, g, w in zip(seqs, got, want, strict=True):
        if s and set(s) <= set("ACGT"):
            assert g == w, s
            assert fast.n_tokens(len(s)) == len(w)
        else:
            assert g is None, s  # left to the tokenizer


def test_kmer_ids_switch_off_for_a_tokenizer_they_do_not_reproduce() -> None:
    """A k-mer claim that the tokenizer does not honour (here: NT's 6-mers read as 3-mers) is caught."""
    bb = load_backbone(ModelConfig(family="nucleotide_transformer", init="tiny"))
    assert not KmerIds(bb.tokenizer, 1, BatchEncoder(bb.tokenizer)).ok
