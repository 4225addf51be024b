"""In-silico saturation mutagenesis: every position (or a window) x the 3 other bases, batched.

``delta[n, i, b] = f(s_n with base b at i) - f(s_n)`` (0 at the reference base, and outside the window or at a
non-ACGT base). The reference forward is computed once per sequence; mutants of several sequences fill the
same batches (grouped by token length, so padding is rare). Per-character tokenizers (one token per base) get
the mutant token ids by substituting one id; any other tokenizer (k-mer, BPE) re-tokenizes every mutant
sequence, so a substitution that changes the tokenization is scored exactly as the model would see it.
Hypothetical contributions: ``delta`` centred per position over the four bases.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .base import BASES, AttributionResult, Method, hypothetical_from_deltas, one_hot, pad_stack, register
from .predictor import Predictor

__all__ = ["ISM", "ism_deltas"]


def _char_ids(pred: Predictor) -> dict[str, int] | None:
    """Token id of each base when the tokenizer maps every base to one token of its own, else None."""
    enc = pred.encode_many(["ACGT" * 4])[0]
    ids = [t for t, sp in zip(enc[0], enc[2], strict=True) if not sp]
    offs = [o for o, sp in zip(enc[1], enc[2], strict=True) if not sp]
    if len(ids) != 16 or any(o != (i, i + 1) for i, o in enumerate(offs)):
        return None
    return {b: ids[i] for i, b in enumerate(BASES)}


def ism_deltas(
    pred: Predictor,
    seqs: list[str],
    window: tuple[int, int | None] = (0, None),
    chunk: int = 8,
) -> tuple[list[np.ndarray], np.ndarray, dict[str, Any]]:
    """Per sequence the (L, 4) delta array, f(x) of every sequence, and notes on how mutants were tokenized."""
    char = _char_ids(pred)
    out: list[np.ndarray] = []
    f_x = np.empty(len(seqs), dtype=np.float64)
    n_forward = 0
    for c0 in range(0, len(seqs), chunk):
        part = seqs[c0 : c0 + chunk]
        encs = pred.encode_many(part)
        refs: list[list[int]] = [e[0] for e in encs]
        where: list[tuple[int, int, int]] = []  # (sequence in chunk, position, base index) per mutant
        subs: list[
            tuple[int, int, int]
        ] = []  # per-base tokenizers: (sequence in chunk, token position, new id)
        mutants: list[str] = []  # other tokenizers: the mutant sequences, re-tokenized
        for k, s in enumerate(part):
            lo, hi = window[0], len(s) if window[1] is None else min(window[1], len(s))
            tok_pos = [t for t, sp in enumerate(encs[k][2]) if not sp] if char is not None else []
            for i in range(max(lo, 0), hi):
                if s[i] not in BASES:
                    continue
                for j, b in enumerate(BASES):
                    if b == s[i]:
                        continue
                    where.append((k, i, j))
                    if char is not None:
                        subs.append((k, tok_pos[i], char[b]))
                    else:
                        mutants.append(s[:i] + b + s[i + 1 :])
        if char is not None:
            # the references ride along as "mutants" that set token 0 to itself: they share the mutants'
            # unpadded batches (a padded batch would change, e.g., the FFT length and so the rounding)
            both = _predict_substituted(pred, refs, [(k, 0, r[0]) for k, r in enumerate(refs)] + subs)
            ref, values = both[: len(part)], both[len(part) :]
        else:
            both = pred.predict(refs + [e[0] for e in pred.encode_many(mutants)])
            ref, values = both[: len(part)], both[len(part) :]
        n_forward += len(refs) + len(where)
        f_x[c0 : c0 + len(part)] = ref
        deltas = [np.zeros((len(s), 4), dtype=np.float64) for s in part]
        for (k, i, j), v in zip(where, values, strict=True):
            deltas[k][i, j] = v - ref[k]
        out += deltas
    notes = {
        "mutant_tokens": "one token id substituted (one token per base)"
        if char is not None
        else "every mutant sequence re-tokenized (k-mer / BPE tokenizer)",
        "forward_rows": n_forward,
    }
    return out, f_x, notes


def _predict_substituted(
    pred: Predictor, refs: list[list[int]], subs: list[tuple[int, int, int]]
) -> np.ndarray:
    """The scalar of every mutant ``(k, t, v)`` = reference row ``k`` with token ``t`` set to id ``v``.

    Mutant rows are built on the device one batch at a time (memory holds one batch, never all 3L mutants of
    a sequence as lists) from the stacked references; a batch holds mutants of one token length (of one or
    several sequences), so it has no padding and its mask is all ones."""
    out = np.empty(len(subs), dtype=np.float64)
    by_len: dict[int, list[int]] = {}
    for m, (k, _, _) in enumerate(subs):
        by_len.setdefault(len(refs[k]), []).append(m)
    for members in by_len.values():
        ks = sorted({subs[m][0] for m in members})
        slot = {k: r for r, k in enumerate(ks)}
        base = torch.tensor([refs[k] for k in ks], dtype=torch.long, device=pred.device)
        for b0 in range(0, len(members), pred.batch_size):
            idx = members[b0 : b0 + pred.batch_size]
            spec = torch.tensor([(slot[subs[m][0]], subs[m][1], subs[m][2]) for m in idx], device=pred.device)
            rows = base[spec[:, 0]]  # advanced indexing copies
            rows[torch.arange(len(idx), device=pred.device), spec[:, 1]] = spec[:, 2]
            with torch.inference_mode():
                out[idx] = pred.scalar(pred.logits(rows, torch.ones_like(rows))).double().cpu().numpy()
    return out


def _compute(pred: Predictor, seqs: list[str], cfg: Any) -> AttributionResult:
    window = (cfg.window_start, cfg.window_end) if cfg is not None else (0, None)
    deltas, f_x, notes = ism_deltas(pred, seqs, window)
    width = max(len(s) for s in seqs)
    hyp = pad_stack([hypothetical_from_deltas(d) for d in deltas], width, (4,))
    oh = one_hot(seqs, width)
    return AttributionResult(
        "ism",
        hyp,
        (hyp * oh).sum(-1),
        f_x,
        extra={"ism_delta": pad_stack(deltas, width, (4,))},
        notes=notes,
    )


ISM = register(
    Method(
        "ism",
        "in-silico saturation mutagenesis: f(mutant) - f(sequence) for every base and alternative",
        _compute,
    )
)
