"""Paper §4.3 at full size on real genomes: 1,000 random 500–1,000 bp segments each of phage lambda and
C. diphtheriae, embeddings of a tiny random model (mean and max pooling), a 4,096-latent TopK SAE, regression on
length, GC and species. Prints the top units per readout; the reports land in ``--out``.

Usage: ``python benchmarks/section43_interpretation.py [--out /tmp/section43] [--steps 300]``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from genomefactory.infer.config import EmbedConfig, InferenceConfig
from genomefactory.infer.embed import run_embed
from genomefactory.interpret.config import ReadoutSpec, SAEConfig, SAERegressionConfig, SAETrainConfig
from genomefactory.interpret.demo import segment_genomes, write_segments_csv
from genomefactory.interpret.regress import run_sae_regression
from genomefactory.interpret.train_sae import run_sae_train
from genomefactory.io import atomic_write_json
from genomefactory.models import ModelConfig

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GENOMEFACTORY_SHARED_DATA", ROOT.parent / "shared" / "data")) / "genomes"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/section43")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--family", default="genomeocean")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    segs = segment_genomes(
        {
            "lambda": DATA / "lambda_NC_001416.1.fasta.gz",
            "cdiphtheriae": DATA / "GCF_001457455.1_NCTC11397_genomic.fna.gz",
        },
        1000,
        seed=0,
    )
    csv = write_segments_csv(segs, out / "segments.csv")
    summary = {}
    for pooling in ("mean", "max"):
        t0 = time.perf_counter()
        emb = out / f"embeddings_{pooling}.parquet"
        run_embed(
            InferenceConfig(
                mode="embed",
                model=ModelConfig(family=args.family, init="tiny"),
                embed=EmbedConfig(input=str(csv), output=str(emb), pooling=pooling, progress=False),
            )
        )
        sae = run_sae_train(
            SAETrainConfig(
                embeddings=str(emb),
                sae=SAEConfig(d_hidden=4096, k=16, aux_k=64, dead_steps=50),
                steps=args.steps,
                lr=3e-3,
                output=str(out / f"sae_{pooling}"),
                overwrite=True,
            )
        )
        res = run_sae_regression(
            SAERegressionConfig(
                embeddings=str(emb),
                sae_checkpoint=str(out / f"sae_{pooling}"),
                output=str(out / f"interpretation_{pooling}"),
                readouts=[
                    ReadoutSpec(kind="length"),
                    ReadoutSpec(kind="gc"),
                    ReadoutSpec(kind="column", column="species"),
                ],
            )
        )
        print(f"== pooling {pooling}: {sae.summary()}")
        print(res.summary(), f"\n   total {time.perf_counter() - t0:.1f} s")
        summary[pooling] = {
            "sae": sae.metrics,
            "readouts": {
                k: {
                    "ridge": v["ridge"],
                    "n_significant": v["n_significant"],
                    "top_units": [(u["unit"], u["pearson_r"]) for u in v["top_units"][:5]],
                }
                for k, v in res.report["readouts"].items()
            },
        }
    summary["args"] = vars(args)
    for dest in (out / "summary.json", ROOT / "benchmarks" / "results" / "section43_interpretation.json"):
        atomic_write_json(dest, summary)


if __name__ == "__main__":
    main()
