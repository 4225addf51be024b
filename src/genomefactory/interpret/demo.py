"""Small end-to-end interpretation (paper §4.3 in shape): segments -> embeddings -> SAE -> regression.

``segment_genomes`` draws random segments (0-based half-open ``[start, end)`` on the plus strand, lengths uniform
in ``[min_len, max_len]``, windows containing ``N`` redrawn) from FASTA genomes, with the genome's name as the
``species`` column. ``run_small_interpretation`` runs the whole pipeline on a CSV or FASTA in well under a minute on
a CPU with a tiny model; it is what ``make demo`` calls after training.
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..io import atomic_path
from ..models.config import ModelConfig
from ..records import read_fasta
from .config import ReadoutSpec, SAEConfig, SAERegressionConfig, SAETrainConfig

__all__ = ["run_small_interpretation", "segment_genomes"]


def segment_genomes(
    genomes: dict[str, str | Path], per_genome: int, min_len: int = 500, max_len: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """``id, sequence, species, start, end`` rows: ``per_genome`` random segments from each genome."""
    rng = random.Random(seed)
    rows = []
    for species, path in genomes.items():
        genome = "".join(seq for _, seq in read_fasta(path))
        if len(genome) < max_len:
            raise DataError(f"genome {species} ({path}) is shorter ({len(genome)} bp) than max_len={max_len}")
        drawn = 0
        for _ in range(per_genome * 20):
            length = rng.randint(min_len, max_len)
            start = rng.randrange(0, len(genome) - length + 1)
            seg = genome[start : start + length]
            if "N" in seg:
                continue
            rows.append(
                {
                    "id": f"{species}:{start}-{start + length}",
                    "sequence": seg,
                    "species": species,
                    "start": start,
                    "end": start + length,
                }
            )
            drawn += 1
            if drawn == per_genome:
                break
        else:
            raise DataError(f"genome {species}: too many N; could not draw {per_genome} segments without N")
    return pd.DataFrame(rows)


def run_small_interpretation(
    sequences: str | Path,
    model_cfg: ModelConfig | None,
    out_dir: str | Path,
    d_hidden: int = 1024,
    steps: int = 300,
    seed: int = 0,
) -> Path:
    """Embed (mean-pooled), train a TopK SAE, relate it to length, GC (and `species`/`label` columns when the
    CSV has them); returns the path of ``interpretation.json``."""
    from ..infer.config import EmbedConfig, InferenceConfig
    from ..infer.embed import run_embed
    from .regress import run_sae_regression
    from .train_sae import run_sae_train

    out = Path(out_dir)
    model_cfg = model_cfg or ModelConfig(family="genomeocean", init="tiny")
    emb_path = out / "embeddings.parquet"
    run_embed(
        InferenceConfig(
            mode="embed",
            model=model_cfg,
            embed=EmbedConfig(
                input=str(sequences), output=str(emb_path), pooling="mean", progress=False, seed=seed
            ),
        )
    )
    sae_cfg = SAEConfig(d_hidden=d_hidden, k=16, aux_k=64, dead_steps=50)
    run_sae_train(
        SAETrainConfig(
            embeddings=str(emb_path),
            sae=sae_cfg,
            steps=steps,
            batch_size=256,
            lr=3e-3,
            seed=seed,
            output=str(out / "sae"),
            overwrite=True,  # the demo's own folder: a rerun replaces its SAE
        )
    )
    readouts = [ReadoutSpec(kind="length"), ReadoutSpec(kind="gc")]
    if str(sequences).lower().endswith((".csv", ".tsv")):
        cols = pd.read_csv(
            sequences, nrows=0, sep="\t" if str(sequences).lower().endswith(".tsv") else ","
        ).columns
        readouts += [ReadoutSpec(kind="column", column=c) for c in ("species", "label") if c in cols]
    result = run_sae_regression(
        SAERegressionConfig(
            embeddings=str(emb_path),
            sae_checkpoint=str(out / "sae"),
            readouts=readouts,
            output=str(out / "interpretation"),
            seed=seed,
        )
    )
    return result.output


def write_segments_csv(frame: pd.DataFrame, dest: str | Path) -> Path:
    with atomic_path(dest, suffix=".csv") as tmp:
        frame.to_csv(tmp, index=False)
    return Path(dest)
