"""Every score recomputed by hand (tokenize, mask, forward one sequence, log-softmax) for a few real variants.

The scorer runs padded, length-grouped, de-duplicated batches; the references here run each window alone, so
agreement to 1e-5 also checks batching, padding and window sharing. Families cover every tokenizer kind: char
(HyenaDNA, Caduceus, Evo's bytes, hf_auto), NT 6-mers (v1, v2) and BPE (DNABERT-2, GenomeOcean).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genomefactory.models.pooling import pool
from genomefactory.sequence import reverse_complement
from genomefactory.train.model_io import load_run_model
from genomefactory.variants.engine import load_handle
from genomefactory.variants.records import Variant
from genomefactory.variants.reference import Reference
from genomefactory.variants.scorer import Scorer
from genomefactory.variants.scores import resolve_scores

from .conftest import LAMBDA
from .helpers import OTHER, config, snvs

W = 60
POSITIONS = [0, 2, 31, 1000, 1003, 1004, 20000, 48501]  # first and last base, neighbours sharing a tile


def _score(cfg, ref: Reference, variants: list[Variant], batch: int = 3):  # type: ignore[no-untyped-def]
    handle = load_handle(cfg.model, batch_size=batch, special_tokens=cfg.window.special_tokens)
    scorer = Scorer(handle, ref, resolve_scores(cfg.scores, handle, "test"), cfg)
    return handle, scorer.score(variants)


def _centred(seq: str, p: int, w: int) -> tuple[str, int]:
    lo = max(p - w // 2, 0)
    return seq[lo : min(p - w // 2 + w, len(seq))], p - lo


def _tiled(seq: str, p: int, w: int, tile: int) -> tuple[str, int]:
    centre = (p // tile) * tile + tile // 2
    lo = max(centre - w // 2, 0)
    return seq[lo : min(centre - w // 2 + w, len(seq))], p - lo


def _logprobs(model: torch.nn.Module, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].double(), -1)


def masked_by_hand(handle, window: str, o: int, alt: str) -> float:  # type: ignore[no-untyped-def]
    tok, model = handle.tok, handle.model
    enc = tok(window, return_offsets_mapping=True, return_special_tokens_mask=True)
    ids = list(enc["input_ids"])
    j = next(
        i
        for i, ((a, b), sp) in enumerate(zip(enc["offset_mapping"], enc["special_tokens_mask"], strict=False))
        if not sp and a <= o < b
    )
    a, b = enc["offset_mapping"][j]
    alt_ids = tok(window[a:o] + alt + window[o + 1 : b], add_special_tokens=False)["input_ids"]
    masked_ref = [*ids[:j], tok.mask_token_id, *ids[j + 1 :]]
    masked_alt = ids[:j] + [tok.mask_token_id] * len(alt_ids) + ids[j + 1 :]
    lp_ref, lp_alt = _logprobs(model, masked_ref), _logprobs(model, masked_alt)
    return float(sum(lp_alt[j + i, t] for i, t in enumerate(alt_ids)) - lp_ref[j, ids[j]])


@pytest.mark.parametrize(
    "family", ["nucleotide_transformer", "nucleotide_transformer_v2", "dnabert2", "caduceus", "hf_auto"]
)
def test_masked_marginal_by_hand(family: str, lambda_ref: Reference, lambda_seq: str) -> None:
    cfg = config(family, scores=["masked_marginal"], window={"size": W}, rc_average=True)
    variants = snvs(lambda_seq, LAMBDA, POSITIONS)
    handle, df = _score(cfg, lambda_ref, variants)
    assert (df["status"] == "ok").all()
    if family == "dnabert2":  # the BPE case where the ALT text of the covering token splits into 2 tokens
        from genomefactory.variants.scores.masked import plan_masked
        from genomefactory.variants.windows import WindowBuilder

        w = WindowBuilder(lambda_ref, W, 1).build(variants[-1], tile=1)
        assert w is not None and len(plan_masked(handle, w).alt_tokens) == 2
    for v, row in zip(variants, df.itertuples(), strict=True):
        window, o = _centred(lambda_seq, v.start, W)
        fwd = masked_by_hand(handle, window, o, v.alt)
        rc = masked_by_hand(
            handle, reverse_complement(window), len(window) - 1 - o, reverse_complement(v.alt)
        )
        assert row.value_fwd == pytest.approx(fwd, abs=1e-5)
        assert row.value_rc == pytest.approx(rc, abs=1e-5)
        assert row.value == pytest.approx((fwd + rc) / 2, abs=1e-5)


def test_nt_masks_the_covering_6mer(lambda_ref: Reference, lambda_seq: str) -> None:
    """NT: the masked token is the 6-mer holding the SNV (frame of the window); ALT token = that 6-mer with ALT."""
    from genomefactory.variants.scores.masked import plan_masked
    from genomefactory.variants.windows import WindowBuilder

    handle = load_handle(config("nucleotide_transformer_v2").model)
    for size in (60, 61, 62, 63, 64, 65):  # the SNV sits at every offset of its 6-mer across these sizes
        builder = WindowBuilder(lambda_ref, size, 1)
        (v,) = snvs(lambda_seq, LAMBDA, [5000])
        w = builder.build(v, tile=1)
        assert w is not None
        plan = plan_masked(handle, w)
        a, b = plan.span
        assert (a, b) == (6 * (w.offset // 6), 6 * (w.offset // 6) + 6) and plan.token == 1 + w.offset // 6
        kmer = w.ref_seq[a:b]
        alt_kmer = kmer[: w.offset - a] + v.alt + kmer[w.offset - a + 1 :]
        assert handle.tok.convert_ids_to_tokens([plan.ref_token, *plan.alt_tokens]) == [kmer, alt_kmer]


@pytest.mark.parametrize("family", ["hyenadna", "evo", "genomeocean"])
def test_loglik_by_hand(family: str, lambda_ref: Reference, lambda_seq: str) -> None:
    cfg = config(family, scores=["loglik"], window={"size": W, "tile": 8})
    variants = snvs(lambda_seq, LAMBDA, POSITIONS)
    p = 7000  # a deletion of 2 bases and an insertion of 3 (windows re-centred around REF)
    variants += [
        Variant(90, 1, LAMBDA, p + 1, lambda_seq[p : p + 3], lambda_seq[p]),
        Variant(91, 1, LAMBDA, p + 1, lambda_seq[p], lambda_seq[p] + "GTA"),
    ]
    handle, df = _score(cfg, lambda_ref, variants)
    special = set(handle.tok.all_special_ids)

    def ll(seq: str) -> tuple[float, int]:
        ids = handle.tok(seq)["input_ids"]
        lp = _logprobs(handle.model, ids)
        terms = [float(lp[t - 1, ids[t]]) for t in range(1, len(ids)) if ids[t] not in special]
        return sum(terms), len(terms)

    sums = df[df.score == "loglik_sum"].reset_index(drop=True)
    means = df[df.score == "loglik_mean"].reset_index(drop=True)
    for k, v in enumerate(variants):
        if v.is_snv:
            ref_w, o = _tiled(lambda_seq, v.start, W, 8)
        else:
            left = (W - len(v.ref)) // 2
            ref_w, o = lambda_seq[v.start - left : v.start + W - left], left
        alt_w = ref_w[:o] + v.alt + ref_w[o + len(v.ref) :]
        (lr, nr), (la, na) = ll(ref_w), ll(alt_w)
        assert sums.loc[k, "value"] == pytest.approx(la - lr, abs=1e-5)
        assert means.loc[k, "value"] == pytest.approx(la / na - lr / nr, abs=1e-6)
        assert sums.loc[k, "alt_window_len"] == len(alt_w) and sums.loc[k, "ref_window_len"] == len(ref_w)


@pytest.mark.parametrize("family", ["nucleotide_transformer", "dnabert2", "hyenadna", "evo"])
def test_embedding_by_hand(family: str, lambda_ref: Reference, lambda_seq: str) -> None:
    cfg = config(family, scores=["embedding"], window={"size": W, "tile": 8}, embedding={"layers": [-1, 1]})
    variants = snvs(lambda_seq, LAMBDA, POSITIONS)
    handle, df = _score(cfg, lambda_ref, variants)
    fam = handle.backbone.family

    def emb(seq: str, layer: int) -> np.ndarray:
        ids = torch.tensor([handle.tok(seq)["input_ids"]])
        with torch.no_grad():
            out = fam.encode(fam.base(handle.model), ids, torch.ones_like(ids), output_hidden_states=True)
        h = out.last_hidden_state if layer == -1 else out.hidden_states[layer]
        return pool(h.double(), None, fam.pooling)[0].numpy()

    for k, v in enumerate(variants):
        ref_w, o = _tiled(lambda_seq, v.start, W, 8)
        alt_w = ref_w[:o] + v.alt + ref_w[o + 1 :]
        for layer, suffix in ((-1, ""), (1, "_layer1")):
            a, b = emb(ref_w, layer), emb(alt_w, layer)
            rows = df[df.record == k].set_index("score")["value"]
            cos = 1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
            assert rows[f"embedding_cosine{suffix}"] == pytest.approx(cos, abs=1e-5)
            assert rows[f"embedding_l2{suffix}"] == pytest.approx(np.linalg.norm(b - a), rel=1e-4, abs=1e-5)


def test_finetuned_by_hand(motif_run: Path, lambda_ref: Reference, lambda_seq: str) -> None:
    cfg = config(None, model={"path": str(motif_run)}, scores=["finetuned"], window={"size": 80, "tile": 10})
    variants = snvs(lambda_seq, LAMBDA, POSITIONS)
    _, df = _score(cfg, lambda_ref, variants)
    run = load_run_model(motif_run)

    def probs(seq: str) -> np.ndarray:
        ids = torch.tensor([run.backbone.tokenizer(seq)["input_ids"]])
        with torch.no_grad():
            return torch.softmax(run.model(input_ids=ids).logits[0].double(), -1).numpy()

    for k, v in enumerate(variants):
        ref_w, o = _tiled(lambda_seq, v.start, 80, 10)
        delta = probs(ref_w[:o] + v.alt + ref_w[o + 1 :]) - probs(ref_w)
        rows = df[df.record == k].set_index("score")["value"]
        assert rows["finetuned_delta_p0"] == pytest.approx(delta[0], abs=1e-5)
        assert rows["finetuned_delta_p1"] == pytest.approx(delta[1], abs=1e-5)


def test_rc_average_equal_on_rc_equivariant_caduceus(lambda_ref: Reference, lambda_seq: str) -> None:
    """Caduceus PS (tiny config is rcps=True) fed bases only: forward and RC scores agree for every score."""
    cfg = config(
        "caduceus",
        scores=["masked_marginal", "embedding"],
        rc_average=True,
        window={"size": W, "special_tokens": False},
    )
    variants = snvs(lambda_seq, LAMBDA, POSITIONS)
    variants.append(
        Variant(50, 1, LAMBDA, 7001, lambda_seq[7000:7003], lambda_seq[7000])
    )  # embedding: indel too
    _, df = _score(cfg, lambda_ref, variants)
    ok = df[df.status == "ok"]
    assert len(ok) >= 3 * len(POSITIONS)
    assert np.abs(ok["value_fwd"] - ok["value_rc"]).max() < 1e-5
    assert (ok.groupby("score")["value"].apply(lambda s: s.abs().max()) > 0).all()  # not trivially zero
    assert (OTHER["A"], df.loc[df.record == 50, "status"].iloc[0]) == ("C", "not_snv")
