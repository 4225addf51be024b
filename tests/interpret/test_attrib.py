"""Attributions: ISM equals a one-mutant-per-forward loop; integrated gradients are complete."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from genomefactory.interpret.attrib import Predictor, attribute
from genomefactory.interpret.attrib.gradients import token_to_base
from genomefactory.models.config import ModelConfig
from genomefactory.models.loading import load_backbone
from genomefactory.train.config import MethodConfig
from genomefactory.train.methods import build_task_model


def _predictor(family: str, task: str = "classification", dtype: torch.dtype = torch.float64) -> Predictor:
    torch.manual_seed(0)
    bb = load_backbone(ModelConfig(family=family, init="tiny"))
    labels = 1 if task == "regression" else 2
    model = build_task_model(bb, MethodConfig(name="full"), task, labels).to(dtype).eval()
    return Predictor(model, bb.tokenizer, task, labels, 512, batch_size=16)


def _seqs(n: int, length: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice("ACGT") for _ in range(length - k)) for k in range(n)]


def _f(pred: Predictor, seq: str) -> float:
    ids = pred.encode_many([seq])[0][0]
    x = torch.tensor([ids])
    with torch.no_grad():
        return float(pred.scalar(pred.logits(x, torch.ones_like(x)))[0])


@pytest.mark.parametrize(
    ("family", "task"),
    [
        ("hyenadna", "classification"),
        ("nucleotide_transformer", "regression"),
        ("dnabert2", "classification"),
    ],
)
def test_ism_equals_brute_force_loop(family: str, task: str) -> None:
    pred = _predictor(family, task)
    seqs = _seqs(3, 14)
    res = attribute(pred, seqs, "ism")
    delta = res.extra["ism_delta"]
    for n, s in enumerate(seqs):
        ref = _f(pred, s)
        assert res.f_x[n] == pytest.approx(ref, abs=1e-9)
        for i in range(len(s)):
            for j, b in enumerate("ACGT"):
                want = 0.0 if b == s[i] else _f(pred, s[:i] + b + s[i + 1 :]) - ref
                assert abs(delta[n, i, j] - want) < 1e-6, (n, i, b)
        assert np.all(delta[n, len(s) :] == 0)
    # hypothetical contributions: deltas centred per position; contribution = the observed base's
    hyp = res.hypothetical[0, : len(seqs[0])]
    assert np.allclose(hyp.sum(-1), 0, atol=1e-6)


@pytest.mark.parametrize("family", ["hyenadna", "nucleotide_transformer", "dnabert2"])
def test_integrated_gradients_completeness(family: str) -> None:
    pred = _predictor(family, dtype=torch.float64)
    seqs = _seqs(4, 20, seed=1)
    res = attribute(pred, seqs, "integrated_gradients", _Cfg())
    total = res.contribution.sum(1) + res.extra["special"]
    want = res.f_x - res.extra["f_baseline"]
    assert np.all(np.abs(want) > 1e-4)
    assert np.allclose(total, want, rtol=0.01, atol=1e-6 + 0.01 * np.abs(want).max())
    for n, s in enumerate(seqs):
        assert res.f_x[n] == pytest.approx(_f(pred, s), abs=1e-8)


def test_input_x_gradient_matches_autograd() -> None:
    pred = _predictor("hyenadna")
    s = _seqs(1, 12)[0]
    res = attribute(pred, [s], "input_x_gradient")
    ids = torch.tensor([pred.encode_many([s])[0][0]])
    emb = pred.embedding()
    e = emb(ids).detach().requires_grad_(True)
    h = emb.register_forward_hook(lambda _m, _i, _o: e)
    try:
        pred.scalar(pred.logits(ids, torch.ones_like(ids)))[0].backward()
    finally:
        h.remove()
    assert e.grad is not None
    tok = (e.grad * e).sum(-1)[0].detach().numpy()
    enc = pred.encode_many([s])[0]
    want, _ = token_to_base(tok, enc[1], enc[2], len(s))
    assert np.allclose(res.contribution[0], want, atol=1e-8)


def test_token_scores_split_over_covered_bases() -> None:
    scores = np.array([5.0, 6.0, 2.0, 1.0])
    base, special = token_to_base(scores, [(0, 0), (0, 3), (3, 4), (0, 0)], [1, 0, 0, 1], 4)
    assert base.tolist() == [2.0, 2.0, 2.0, 2.0]
    assert special == 6.0


class _Cfg:
    n_steps = 64
    internal_batch_size = None
