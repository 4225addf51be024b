"""Masking statistics, whole-6-mer replacement, the causal shift, and the RC symmetry of Caduceus PS's loss."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from genomefactory.models.layers.rcps import rc_ids
from genomefactory.models.registry import get_family
from genomefactory.pretrain.objective import IGNORE, Masker, clm_labels, token_nll


def _nt_masker() -> tuple[Masker, object]:
    fam = get_family("nucleotide_transformer")
    tok = fam.tokenizer(None, fam.tiny_config())
    return Masker.for_tokenizer(tok, "<mask>", 0.15, 0.8, 0.1), tok


def test_mlm_masks_15_percent_of_real_tokens_80_10_10_and_whole_6mers() -> None:
    masker, tok = _nt_masker()
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 6 * 200)) + "ACG"  # 200 6-mers, then 3 single bases
    ids = tok(seq)["input_ids"]
    vocab = tok.convert_ids_to_tokens(list(range(len(tok))))
    special = set(tok.all_special_ids)
    counts = {"mask": 0, "random": 0, "kept": 0}
    for i in range(200):
        x, y = masker(ids, np.random.default_rng([1, i]))
        real = [p for p, t in enumerate(ids) if t not in special]
        picked = [p for p, t in enumerate(y) if t != IGNORE]
        assert len(picked) == round(0.15 * len(real))  # the exact share, of real tokens only
        assert all(ids[p] not in special for p in picked) and x[0] == ids[0]  # <cls> is never touched
        assert all(y[p] == ids[p] for p in picked)
        for p in range(len(ids)):
            if p not in picked:
                assert x[p] == ids[p]
            elif x[p] == masker.mask_id:
                counts["mask"] += 1
            elif x[p] == ids[p]:
                counts["kept"] += 1
            else:
                counts["random"] += 1
                # a random replacement spells as many bases as the token it replaces: a 6-mer for a 6-mer
                assert len(vocab[x[p]]) == len(vocab[ids[p]]) and set(vocab[x[p]]) <= set("ACGT")
    total = sum(counts.values())
    # 6,000 draws: binomial sd of a share ~0.5 %, so 2 % bounds fail only on a wrong split
    assert abs(counts["mask"] / total - 0.8) < 0.02
    assert abs(counts["random"] / total - 0.1) < 0.02
    assert abs(counts["kept"] / total - 0.1) < 0.02


def test_masks_are_seeded() -> None:
    masker, tok = _nt_masker()
    ids = tok("ACGTAC" * 50)["input_ids"]
    a = masker(ids, np.random.default_rng([5, 1]))
    assert a == masker(ids, np.random.default_rng([5, 1])) and a != masker(ids, np.random.default_rng([5, 2]))


def test_causal_nll_is_the_brute_force_next_token_sum() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 9)
    labels = torch.randint(0, 9, (2, 6))
    labels[0, :2] = IGNORE  # left padding
    labels[1, 4] = IGNORE  # a special token
    nll, n = token_nll(logits, labels, causal=True)
    want, count = 0.0, 0
    for b in range(2):
        for t in range(5):
            if labels[b, t + 1] != IGNORE:
                want -= float(F.log_softmax(logits[b, t], -1)[labels[b, t + 1]])
                count += 1
    assert n == count == 8 and abs(float(nll) - want) < 1e-4
    assert clm_labels([1, 7, 8, 4], frozenset({1, 4})) == [IGNORE, 7, 8, IGNORE]


def test_caduceus_ps_loss_is_the_same_on_the_reverse_complement_with_mirrored_targets() -> None:
    """RC-equivariant targets: on RC(x) the target at position L-1-i is the complement of x's target at i."""
    fam = get_family("caduceus")
    cfg = fam.tiny_config()
    assert fam.rc_equivariant(cfg)
    torch.manual_seed(0)
    model = fam.build(cfg).eval()
    comp = torch.tensor([int(c) for c in cfg["complement_map"].values()])
    ids = torch.randint(7, 11, (2, 40))
    labels = torch.full_like(ids, IGNORE)
    labels[:, ::5] = ids[:, ::5]
    ids[:, ::5] = 3  # [MASK], its own complement
    with torch.no_grad():
        fwd, n = token_nll(model(input_ids=ids, attention_mask=None).logits, labels, causal=False)
        rc_labels = torch.where(labels == IGNORE, labels, comp[labels.clamp(min=0)]).flip(-1)
        rev, m = token_nll(model(input_ids=rc_ids(ids, comp), attention_mask=None).logits, rc_labels, False)
        # a model that is not equivariant (PH) gives another loss: the check can fail
        ph = fam.build({**cfg, "rcps": False}).eval()
        a = token_nll(ph(input_ids=ids, attention_mask=None).logits, labels, False)[0]
        b = token_nll(ph(input_ids=rc_ids(ids, comp), attention_mask=None).logits, rc_labels, False)[0]
    assert n == m and torch.allclose(fwd, rev, rtol=1e-5)
    assert not torch.allclose(a, b, rtol=1e-3)


def test_causal_batches_pad_right_so_each_window_scores_as_alone() -> None:
    """GenomeOcean (BPE, a left-padding tokenizer, Mistral positions from 0): a right-padded batch gives every window
    the NLL it gets alone; left padding without position ids would shift the positions of the shorter one."""
    from genomefactory.pretrain.data import LMCollator

    fam = get_family("genomeocean")
    cfg = fam.tiny_config()
    torch.manual_seed(0)
    model = fam.build(cfg).eval()
    tok = fam.tokenizer(None, cfg)
    special = frozenset(tok.all_special_ids)
    seqs = ["ACGTTGCAAGGCTTAACGGATCCATGCAAAT", "TTTTGGGGCCCCAAAAACGTACGTAC"]
    items = [
        {"input_ids": tok(s)["input_ids"], "labels": clm_labels(tok(s)["input_ids"], special)} for s in seqs
    ]
    assert len(items[0]["input_ids"]) != len(items[1]["input_ids"])  # the batch really pads
    batch = LMCollator(int(tok.pad_token_id), "right")(items)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        for r, it in enumerate(items):
            alone = LMCollator(int(tok.pad_token_id), "right")([it])
            want = token_nll(
                model(input_ids=alone["input_ids"], attention_mask=None).logits, alone["labels"], True
            )
            got = token_nll(logits[r : r + 1], batch["labels"][r : r + 1], True)
            assert got[1] == want[1] and torch.allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
