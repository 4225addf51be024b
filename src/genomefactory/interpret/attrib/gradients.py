"""Gradient attributions through ``captum`` on the token-embedding layer, projected back to bases.

Both methods differentiate the explained scalar ``f`` (see :mod:`.predictor`) with respect to the output of the
backbone's token-embedding layer ``e`` (batch, tokens, hidden), replaced through a forward hook:

- ``integrated_gradients`` (captum ``IntegratedGradients``, Gauss-Legendre, ``n_steps``): from the baseline
  ``e0 = 0`` (a zero embedding at every token) to ``e``; token score = sum over hidden of
  ``(e - e0) * mean path gradient``. Completeness: the token scores sum to ``f(x) - f(baseline)`` up to the
  integration error (``convergence_delta`` is stored per sequence).
- ``input_x_gradient`` (captum ``Saliency`` gradient times the input): token score = ``sum_h e * df/de``.

**Tokens -> bases.** A token's score is split evenly over the bases its character offsets cover (a 6-mer token
gives each of its 6 bases 1/6; a one-base token gives its base all of it; overlapping spans add up). Special
tokens ([CLS], [SEP], <eos>) cover no base: their scores are stored as ``special`` per sequence, so bases +
special = the total. **Hypothetical contributions** (what TF-MoDISco reads): with one token per base, the score
base ``b`` would get at position ``i`` is ``g_i . (E[b] - e0_i)`` (``g_i`` the path-averaged gradient, ``E[b]``
the embedding of b's token); for k-mer / BPE tokenizers only the observed base has a score (the others 0): use
``ism`` for motif discovery with those.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .base import AttributionResult, Method, one_hot, pad_stack, register
from .predictor import Predictor

__all__ = ["INPUT_X_GRADIENT", "INTEGRATED_GRADIENTS", "token_to_base"]


def token_to_base(
    scores: np.ndarray, offsets: list[tuple[int, int]], special: list[int], length: int
) -> tuple[np.ndarray, float]:
    """(tokens,) token scores -> ((length,) base scores, summed score of the special tokens)."""
    out = np.zeros(length, dtype=np.float64)
    extra = 0.0
    for t, (a, b) in enumerate(offsets):
        if special[t] or b <= a:
            extra += float(scores[t])
            continue
        out[a:b] += scores[t] / (b - a)
    return out, extra


def _forward(pred: Predictor) -> Callable[..., torch.Tensor]:
    emb = pred.embedding()

    def f(e: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        handle = emb.register_forward_hook(lambda _m, _i, out: e.to(out.dtype))
        try:
            return pred.scalar(pred.logits(ids, mask))
        finally:
            handle.remove()

    return f


def _base_ids(pred: Predictor) -> list[int] | None:
    enc = pred.encode_many(["ACGT"])[0]
    ids = [t for t, sp in zip(enc[0], enc[2], strict=True) if not sp]
    offs = [o for o, sp in zip(enc[1], enc[2], strict=True) if not sp]
    return ids if len(ids) == 4 and offs == [(0, 1), (1, 2), (2, 3), (3, 4)] else None


def _gradient_method(name: str) -> Callable[[Predictor, list[str], Any], AttributionResult]:
    def compute(pred: Predictor, seqs: list[str], cfg: Any) -> AttributionResult:
        from captum.attr import IntegratedGradients, Saliency

        n_steps = int(getattr(cfg, "n_steps", 64))
        inner = getattr(cfg, "internal_batch_size", None)
        f = _forward(pred)
        emb = pred.embedding()
        base_ids = _base_ids(pred)
        table = emb.weight.detach()
        encs = pred.encode_many(seqs)
        width = max(len(s) for s in seqs)
        contrib = [np.zeros(len(s)) for s in seqs]
        hyp = [np.zeros((len(s), 4)) for s in seqs]
        special = np.zeros(len(seqs))
        f_x = np.zeros(len(seqs))
        f_0 = np.zeros(len(seqs))
        delta = np.zeros(len(seqs))
        # batches of sequences with the same token count: no padding enters the attributions
        groups: dict[int, list[int]] = {}
        for n, e in enumerate(encs):
            groups.setdefault(len(e[0]), []).append(n)
        for members in groups.values():
            for b in range(0, len(members), pred.batch_size):
                idx = members[b : b + pred.batch_size]
                ids, mask = pred.pad([encs[n][0] for n in idx])
                with torch.no_grad():
                    e = emb(ids).detach()
                base0 = torch.zeros_like(e)
                with torch.enable_grad():
                    if name == "integrated_gradients":
                        grads = IntegratedGradients(f, multiply_by_inputs=False).attribute(
                            e,
                            baselines=base0,
                            additional_forward_args=(ids, mask),
                            n_steps=n_steps,
                            internal_batch_size=inner,
                        )
                    else:
                        grads = Saliency(f).attribute(e, abs=False, additional_forward_args=(ids, mask))
                grads = grads.detach()
                with torch.no_grad():
                    fx = f(e, ids, mask).double().cpu().numpy()
                    f0 = f(base0, ids, mask).double().cpu().numpy()
                diff = e - base0 if name == "integrated_gradients" else e
                tok = (grads * diff).sum(-1).double().cpu().numpy()  # (B, tokens)
                for row, n in enumerate(idx):
                    _, offs, sp = encs[n]
                    contrib[n], special[n] = token_to_base(tok[row], offs, sp, len(seqs[n]))
                    f_x[n], f_0[n] = fx[row], f0[row]
                    delta[n] = tok[row].sum() - (fx[row] - f0[row] if name == "integrated_gradients" else 0.0)
                    if base_ids is not None:
                        # score of base b at position i: g_i . (E[b] - e0_i) (one token per base)
                        pos = [t for t, s in enumerate(sp) if not s]
                        g = grads[row, pos]  # (L, H)
                        h = g @ table[base_ids].T.to(g.dtype)  # (L, 4)
                        if name == "integrated_gradients":
                            h = h - (g * base0[row, pos]).sum(-1, keepdim=True)
                        hyp[n] = h.double().cpu().numpy()
                    else:
                        oh = one_hot([seqs[n]])[0]
                        hyp[n] = oh * contrib[n][:, None]
        hyp_arr = pad_stack(hyp, width, (4,))
        notes = {
            "baseline": "zero embedding at every token" if name == "integrated_gradients" else None,
            "n_steps": n_steps if name == "integrated_gradients" else None,
            "tokens_to_bases": "token score split evenly over the bases its offsets cover; special tokens "
            "stored in `special`",
            "hypothetical": "g_i . E[b] per base (one token per base)"
            if base_ids is not None
            else "observed base only (multi-base tokens)",
        }
        extra: dict[str, np.ndarray] = {"special": special}
        if name == "integrated_gradients":
            extra.update(f_baseline=f_0, convergence_delta=delta)
        return AttributionResult(name, hyp_arr, pad_stack(contrib, width), f_x, extra, notes)

    return compute


INTEGRATED_GRADIENTS = register(
    Method(
        "integrated_gradients",
        "integrated gradients (captum) on the token embeddings from a zero-embedding baseline",
        _gradient_method("integrated_gradients"),
        needs_gradients=True,
    )
)
INPUT_X_GRADIENT = register(
    Method(
        "input_x_gradient",
        "embedding x gradient (captum Saliency) on the token embeddings",
        _gradient_method("input_x_gradient"),
        needs_gradients=True,
    )
)
