"""SAE training speed (steps/s) and quality on synthetic planted-dictionary data.

Usage: ``python benchmarks/sae_speed.py [--d-model 768] [--d-hidden 4096] [--batch 1024] [--steps 50]``.
For TopK and ReLU+L1 SAEs: steps/s of ``train_sae`` (forward, loss with the auxiliary dead-latent term, backward,
decoder projection and renormalisation), plus FVE, mean L0 and dead fraction after those steps. Prints a table and
writes ``benchmarks/results/sae_speed.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from genomefactory.interpret.config import SAEConfig
from genomefactory.interpret.train_sae import train_sae

OUT = Path(__file__).resolve().parent / "results" / "sae_speed.json"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--d-model", type=int, default=768)
    ap.add_argument("--d-hidden", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    atoms = torch.randn(args.d_model, 2 * args.d_model, generator=g)
    codes = torch.rand(args.n, 2 * args.d_model, generator=g) * (
        torch.rand(args.n, 2 * args.d_model, generator=g) < 0.02
    )
    x = codes @ atoms.t()
    rows = []
    for name, cfg in (
        ("topk k=32", SAEConfig(d_hidden=args.d_hidden, activation="topk", k=32)),
        ("relu+l1", SAEConfig(d_hidden=args.d_hidden, activation="relu", l1_coeff=1e-3)),
    ):
        _, m = train_sae(x, cfg, steps=args.steps, batch_size=args.batch, device=torch.device(args.device))
        rows.append({"sae": name, **m})
    print(
        f"d_model {args.d_model}, d_hidden {args.d_hidden}, batch {args.batch}, {args.steps} steps, {args.device}"
    )
    print(f"{'sae':<12}{'steps/s':>9}{'FVE':>8}{'L0':>8}{'dead':>8}")
    for r in rows:
        print(
            f"{r['sae']:<12}{r['steps_per_s']:>9.1f}{r['fve']:>8.3f}{r['mean_l0']:>8.1f}{r['dead_fraction']:>8.1%}"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
