"""Variant-scoring throughput: the batched scorer against a plain one-variant-at-a-time loop, per score.

Usage: ``python benchmarks/variant_throughput.py [--n 1000] [--windows 100,500] [--batch 64] [--threads 1]``.
A seeded random genome (3 contigs, 60 kb, written to a temp folder) and ``--n`` SNVs (``sparse``: random
positions; ``dense``: all three ALTs at every position of random 30-bp regions) are scored with tiny random models (``init: tiny``): masked_marginal with NT-v2, loglik and embedding with HyenaDNA.

- batched: :class:`genomefactory.variants.scorer.Scorer` (length-grouped padded batches of ``--batch``, each
  distinct token sequence computed once: tiles of SNVs share their reference window);
- plain loop: for each variant, fetch its window, tokenize, and run each needed sequence alone (batch 1): the
  masked window (masked_marginal), or the REF and the ALT window (loglik, embedding).

Both give the same values (the max difference is reported). Prints a table of variants/s, the ratio and the cost
per variant of each score, and writes ``benchmarks/results/variant_throughput.json``. Times are medians of
``--repeats`` runs after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genomefactory.models.loading import ModelConfig
from genomefactory.models.pooling import pool
from genomefactory.variants.config import VariantsConfig
from genomefactory.variants.demo import plant_genome
from genomefactory.variants.engine import ModelHandle, load_handle
from genomefactory.variants.records import Variant
from genomefactory.variants.reference import Reference
from genomefactory.variants.scorer import Scorer
from genomefactory.variants.scores import resolve_scores

OUT = Path(__file__).resolve().parent / "results" / "variant_throughput.json"
CASES = [("masked_marginal", "nucleotide_transformer_v2"), ("loglik", "hyenadna"), ("embedding", "hyenadna")]


def _variants(ref: Reference, n: int, seed: int, layout: str) -> list[Variant]:
    """sparse: SNVs at random positions (one ALT each); dense: every ALT at every position of random 30-bp
    regions (saturation mutagenesis, or the variant-dense regions of a cohort VCF)."""
    rng = random.Random(seed)
    names = list(ref.lengths)
    out: list[Variant] = []
    while len(out) < n:
        c = rng.choice(names)
        start = rng.randrange(ref.length(c) - 30)
        for p in range(start, start + (30 if layout == "dense" else 1)):
            b = ref.fetch(c, p, p + 1)
            alts = [x for x in "ACGT" if x != b]
            for a in alts if layout == "dense" else [rng.choice(alts)]:
                out.append(Variant(len(out), 1, c, p + 1, b, a))
    return sorted(out[:n], key=lambda v: (v.chrom, v.pos))


def _window(ref: Reference, v: Variant, w: int, tile: int) -> tuple[str, int]:
    centre = (v.start // tile) * tile + tile // 2
    lo = max(centre - w // 2, 0)
    return ref.fetch(v.chrom, lo, min(centre - w // 2 + w, ref.length(v.chrom))), v.start - lo


def _forward(h: ModelHandle, ids: list[int]) -> Any:
    x = torch.tensor([ids])
    with torch.inference_mode():
        return h.model(input_ids=x, attention_mask=torch.ones_like(x))


def plain_loop(
    score: str, h: ModelHandle, ref: Reference, variants: list[Variant], w: int, tile: int
) -> list[float]:
    """The straightforward implementation: one variant, one sequence per forward pass."""
    out = []
    for v in variants:
        if score == "masked_marginal":
            seq, o = _window(ref, v, w, 1)
            enc = h.tok(seq, return_offsets_mapping=True, return_special_tokens_mask=True)
            ids = list(enc["input_ids"])
            j = next(
                i
                for i, ((a, b), sp) in enumerate(
                    zip(enc["offset_mapping"], enc["special_tokens_mask"], strict=True)
                )
                if not sp and a <= o < b
            )
            a, b = enc["offset_mapping"][j]
            alt_tok = h.tok(seq[a:o] + v.alt + seq[o + 1 : b], add_special_tokens=False)["input_ids"][0]
            lp = torch.log_softmax(
                _forward(h, [*ids[:j], h.tok.mask_token_id, *ids[j + 1 :]]).logits[0, j].double(), -1
            )
            out.append(float(lp[alt_tok] - lp[ids[j]]))
            continue
        seq, o = _window(ref, v, w, tile)
        pair = [h.tok(s)["input_ids"] for s in (seq, seq[:o] + v.alt + seq[o + 1 :])]
        if score == "loglik":
            lls = []
            for ids in pair:
                lp = torch.log_softmax(_forward(h, ids).logits[0].double(), -1)
                lls.append(
                    sum(float(lp[t - 1, ids[t]]) for t in range(1, len(ids)) if ids[t] not in h.special_ids)
                )
            out.append(lls[1] - lls[0])
        else:
            fam = h.backbone.family
            vecs = []
            for ids in pair:
                x = torch.tensor([ids])
                with torch.inference_mode():
                    hid = fam.encode(h.base, x, torch.ones_like(x)).last_hidden_state
                vecs.append(pool(hid.double(), None, fam.pooling)[0].numpy())
            a_, b_ = vecs
            out.append(float(1 - a_ @ b_ / (np.linalg.norm(a_) * np.linalg.norm(b_))))
    return out


def _timed(fn: Any, repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def bench_case(
    score: str, family: str, ref: Reference, variants: list[Variant], args: argparse.Namespace
) -> dict[str, Any]:
    over = {"embedding": {"metrics": ["cosine"]}} if score == "embedding" else {}
    cfg = VariantsConfig(
        input="-",
        genome="-",
        model=ModelConfig(family=family, init="tiny"),
        scores=[score],
        window={"size": args.window, "tile": args.tile},
        **over,
    )  # type: ignore[arg-type]
    h = load_handle(cfg.model, batch_size=args.batch)
    scorer = Scorer(h, ref, resolve_scores(cfg.scores, h, family), cfg)
    first = scorer.outputs()[0]
    scorer.score(variants[:16])  # warm-up
    t_batched, df = _timed(lambda: scorer.score(variants), args.repeats)
    batched = df[df.score == first]["value"].to_numpy()
    n_plain = min(len(variants), args.plain_n)
    plain_loop(score, h, ref, variants[:8], args.window, args.tile)
    t_plain, plain = _timed(lambda: plain_loop(score, h, ref, variants[:n_plain], args.window, args.tile), 1)
    return {
        "score": score,
        "output": first,
        "family": family,
        "variants": len(variants),
        "batched_variants_per_s": len(variants) / t_batched,
        "plain_variants_per_s": n_plain / t_plain,
        "speedup": (len(variants) / t_batched) / (n_plain / t_plain),
        "batched_ms_per_variant": 1000 * t_batched / len(variants),
        "max_abs_diff_vs_plain": float(np.max(np.abs(batched[:n_plain] - np.asarray(plain)))),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--plain-n", type=int, default=300, help="variants timed in the (slow) plain loop")
    ap.add_argument("--windows", default="100,500", help="window sizes (bases) to measure")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layouts", default="sparse,dense", help="variant layouts to measure (sparse, dense)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        fa = Path(tmp) / "genome.fa"
        plant_genome(fa, {"chrA": 25000, "chrB": 20000, "chrC": 15000}, sites_per_contig=4, seed=1)
        ref = Reference(fa)
        rows = []
        for window in (int(w) for w in args.windows.split(",")):
            args.window, args.tile = window, max(1, min(64, window // 8))  # the config's default tile
            for layout in args.layouts.split(","):
                variants = _variants(ref, args.n, 2, layout)
                rows += [
                    {"window": window, "layout": layout, **bench_case(s, f, ref, variants, args)}
                    for s, f in CASES
                ]
    head = [
        "window",
        "layout",
        "score",
        "family",
        "batched v/s",
        "plain v/s",
        "speedup",
        "ms/variant",
        "max diff",
    ]
    print(" ".join(f"{h:>12}" for h in head))
    for r in rows:
        cells = [
            r["window"],
            r["layout"],
            r["score"][:12],
            r["family"][:12],
            f"{r['batched_variants_per_s']:.1f}",
            f"{r['plain_variants_per_s']:.1f}",
            f"{r['speedup']:.1f}",
            f"{r['batched_ms_per_variant']:.2f}",
            f"{r['max_abs_diff_vs_plain']:.1e}",
        ]
        print(" ".join(f"{c!s:>12}" for c in cells))
    settings = {k: v for k, v in vars(args).items() if k not in ("window", "tile")}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"settings": settings, "device": "cpu", "results": rows}, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
