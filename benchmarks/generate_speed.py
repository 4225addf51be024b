"""Generation tokens/s: our decoding engines against the plain greedy loop a user writes (benchmarks/baselines/).

- Evo: prefill + recurrent step (FIR/modal IIR state for hyena layers, KV cache for attention) via
  ``family.generate``;
- GenomeOcean: transformers ``model.generate`` with its KV cache;
- baseline: GenomeOcean, a greedy loop WITH the KV cache (``past_key_values``, one new token per forward);
  Evo, whose forward exposes no cache outside the family's engine, the loop that re-runs the sequence per token.
Greedy decoding so both paths must produce identical tokens (checked). Small random models of each family's
architecture; CPU by default, CUDA when available.

    python benchmarks/generate_speed.py [--prompt 256] [--new 128] [--batch 4]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from genomefactory.models import ModelConfig, load_backbone

ROOT = Path(__file__).resolve().parents[1]
SMALL = {
    "evo": {
        "hidden_size": 128,
        "num_filters": 128,
        "num_layers": 4,
        "attn_layer_idxs": [2],
        "hyena_layer_idxs": [0, 1, 3],
        "num_attention_heads": 4,
    },
    "genomeocean": {
        "hidden_size": 128,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "intermediate_size": 256,
        "head_dim": 32,
    },
}


@torch.no_grad()
def plain_loop(bb, ids: torch.Tensor, new: int) -> torch.Tensor:  # type: ignore[no-untyped-def]
    seq = ids
    for _ in range(new):
        logits = bb.model(input_ids=seq).logits
        seq = torch.cat([seq, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return seq[:, ids.shape[1] :]


@torch.no_grad()
def engine(bb, ids: torch.Tensor, new: int) -> torch.Tensor:  # type: ignore[no-untyped-def]
    own = bb.family.generate(bb.model, ids, new, None)
    if own is not None:  # the family's own decoding loop
        return own[:, ids.shape[1] :]  # type: ignore[no-any-return]
    out = bb.model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=new,
        min_new_tokens=new,
        do_sample=False,
        eos_token_id=None,
        pad_token_id=bb.tokenizer.pad_token_id,
    )
    return out[:, ids.shape[1] :]  # type: ignore[no-any-return]


def _time(fn, *args) -> tuple[torch.Tensor, float]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--prompt", type=int, default=256)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "generate_speed.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rows = []
    for family, overrides in SMALL.items():
        torch.manual_seed(0)
        bb = load_backbone(ModelConfig(family=family, init="tiny", tiny_overrides=overrides))
        bb.model.to(device).eval()
        dna = "".join(["ACGT"[i] for i in torch.randint(0, 4, (args.prompt * 6,)).tolist()])
        prompt = bb.tokenizer(dna, add_special_tokens=False)["input_ids"][: args.prompt]
        ids = torch.tensor([prompt] * args.batch, device=device)
        engine(bb, ids[:, :8], 2)  # warm-up
        fast, t_fast = _time(engine, bb, ids, args.new)
        from benchmarks.baselines.generate import cached_greedy, uncached_greedy

        base = cached_greedy if family == "genomeocean" else uncached_greedy
        slow, t_slow = _time(base, bb.model, ids, args.new)
        same = bool(torch.equal(fast, slow))
        toks = args.batch * args.new
        rows.append(
            {
                "family": family,
                "engine_tok_s": round(toks / t_fast, 1),
                "plain_tok_s": round(toks / t_slow, 1),
                "speedup": round(t_slow / t_fast, 2),
                "baseline": "greedy loop with KV cache" if base is cached_greedy else "greedy loop, no cache",
                "identical_greedy_tokens": same,
            }
        )
    print(f"{'family':12} {'engine tok/s':>13} {'plain tok/s':>12} {'speed-up':>9} {'same tokens':>12}")
    for r in rows:
        print(
            f"{r['family']:12} {r['engine_tok_s']:>13.1f} {r['plain_tok_s']:>12.1f} {r['speedup']:>8.2f}x "
            f"{r['identical_greedy_tokens']!s:>12}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"device": str(device), "date": time.strftime("%Y-%m-%d"), "settings": vars(args), "rows": rows},
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
