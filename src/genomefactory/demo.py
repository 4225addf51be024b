"""``make demo`` / ``python -m genomefactory.demo``: the main pipeline end to end, offline, on embedded defaults.

1. Make data: two seeded synthetic "species" genomes (different GC, one with a planted TATA-like motif);
   fragments labelled by species, split into train/dev/test (no shared fragment).
2. Fine-tune a tiny random model of a real architecture with LoRA, evaluate, save.
3. Predict with the saved run on the test file (the Inference Engine).
4. Embeddings + sparse auto-encoder + readout regression when those modules are installed.
No network and no ``../shared`` needed; pass ``--out DIR`` or ``--data DIR`` (a task folder) to change defaults.
``--data-only`` stops after step 1: ``DIR/data`` (the task folder) and ``DIR/genomes`` (the two genomes as FASTA,
with a ``genomes.json`` listing like a ``download`` folder, so ``process`` can read them) for your own commands.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .sequence import reverse_complement

MOTIF = "TATAAAAGGC"  # a TATA-box-like element planted in species A


def synthetic_genome(length: int, gc: float, motif_every: int, seed: int) -> str:
    """A seeded random genome with GC fraction ``gc`` and the motif planted about every ``motif_every`` bp."""
    rng = np.random.default_rng(seed)
    p = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])  # A C G T
    seq = list("".join(rng.choice(np.array(list("ACGT")), size=length, p=p).tolist()))
    if motif_every:
        for pos in range(int(rng.integers(0, motif_every)), length - len(MOTIF), motif_every):
            motif = MOTIF if rng.random() < 0.5 else reverse_complement(MOTIF)
            seq[pos : pos + len(MOTIF)] = list(motif)
    return "".join(seq)


def synthetic_task(out: Path, n_per_class: int = 500, length: int = 150, seed: int = 0) -> Path:
    """Species classification from two synthetic genomes (paper appendix E.2.1 in miniature).

    Species A: GC 0.40 with a planted motif; species B: GC 0.50, no motif. Non-overlapping fragments of
    100-200 bp (for ``length=150``) are cut from each genome, labelled by species (A=1, B=0) and split 70/15/15 with no
    fragment in two splits. Returns the task folder (train/dev/test.csv).
    """
    genomes = {
        1: synthetic_genome(n_per_class * length, 0.40, 200, seed),
        0: synthetic_genome(n_per_class * length, 0.50, 0, seed + 1),
    }
    rng = np.random.default_rng(seed + 2)
    rows: list[tuple[str, int]] = []
    for (
        label,
        g,
    ) in genomes.items():  # consecutive, non-overlapping fragments of length in [2/3, 4/3] x length
        pos = 0
        while True:
            size = int(rng.integers(2 * length // 3, 4 * length // 3 + 1))
            if pos + size > len(g):
                break
            rows.append((g[pos : pos + size], label))
            pos += size
    df = pd.DataFrame(rows, columns=["sequence", "label"]).drop_duplicates("sequence")
    df = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    n = len(df)
    cut1, cut2 = int(0.7 * n), int(0.85 * n)
    out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", df[:cut1]), ("dev", df[cut1:cut2]), ("test", df[cut2:])):
        part.to_csv(out / f"{name}.csv", index=False)
    return out


def write_genomes(out: Path, length: int = 75_000, seed: int = 0) -> Path:
    """The demo's two species as FASTA files plus ``genomes.json`` (the layout ``download`` writes)."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    listing = []
    for name, gc, motif, s in (("species_a", 0.40, 200, seed), ("species_b", 0.50, 0, seed + 1)):
        seq = synthetic_genome(length, gc, motif, s)
        path = out / f"{name}.fa"
        path.write_text(f">{name}\n" + "\n".join(seq[i : i + 80] for i in range(0, len(seq), 80)) + "\n")
        listing.append({"path": path.name, "organism": name})
    (out / "genomes.json").write_text(json.dumps(listing, indent=2) + "\n")
    return out


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    parser.add_argument(
        "--data", default=None, help="a task folder (train/dev/test.csv) instead of synthetic data"
    )
    parser.add_argument("--family", default="hyenadna", help="model family (tiny random variant)")
    parser.add_argument("--epochs", type=float, default=4)
    parser.add_argument(
        "--data-only",
        action="store_true",
        help="only write DIR/data (a task folder) and DIR/genomes (FASTA + genomes.json), then stop",
    )
    return parser.parse_args(argv)


def _train(data: Path, run_dir: Path, family: str, epochs: float) -> Any:
    from .config import load_config
    from .train.config import TrainConfig
    from .train.finetune import run_train

    settings = {
        "data": {"path": str(data)},
        "output_dir": str(run_dir),
        "overwrite": True,
        "model": {"family": family, "init": "tiny"},
        "method": {"name": "lora", "lora": {"r": 8, "alpha": 32, "target_modules": "default"}},
        "training": {
            "epochs": epochs,
            "batch_size": 32,
            "learning_rate": 5e-3,
            "seed": 42,
            "logging_steps": 20,
        },
    }
    return run_train(load_config(TrainConfig, None, settings))


def _predict(run_dir: Path, table: Path, output: Path) -> Any:
    from .config import load_config
    from .infer.config import InferenceConfig
    from .infer.run import run_inference

    settings = {
        "mode": "predict",
        "model": {"path": str(run_dir)},
        "predict": {"input": str(table), "output": str(output)},
    }
    return run_inference(load_config(InferenceConfig, None, settings))


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.WARNING)
    out = Path(args.out)
    t0 = time.perf_counter()
    data = Path(args.data) if args.data else synthetic_task(out / "data")
    print(f"[1/4] dataset: {data} (train/dev/test.csv)")
    if args.data_only:
        print(f"genomes:     {write_genomes(out / 'genomes')} (FASTA + genomes.json)")
        return 0
    run_dir = out / "run_lora"
    result = _train(data, run_dir, args.family, args.epochs)
    print(
        f"[2/4] LoRA fine-tuning done in {result.train_seconds:.0f} s: test MCC {result.test_metrics['mcc']:.3f}, "
        f"accuracy {result.test_metrics['accuracy']:.3f}"
    )
    pred = _predict(run_dir, data / "test.csv", out / "predictions.csv")
    print(f"[3/4] predictions: {pred.output}")
    _interpret(data, run_dir, out)
    print(
        f"\nmetrics:     {result.files['metrics']}\npredictions: {result.files['predictions']} and {pred.output}\n"
        f"model:       {result.files['model']}\nmanifest:    {result.files['manifest']}\n"
        f"total time:  {time.perf_counter() - t0:.0f} s"
    )
    return 0


def _interpret(data: Path, run_dir: Path, out: Path) -> None:
    try:
        from .interpret.demo import run_small_interpretation
    except ImportError:
        print("[4/4] interpretation: module not available in this build (skipped)")
        return
    from .models.config import ModelConfig

    # embeddings of the fine-tuned model (a run directory is a valid model.path)
    report = run_small_interpretation(data / "test.csv", ModelConfig(path=str(run_dir)), out / "interpret")
    print(f"[4/4] embeddings + sparse auto-encoder + regression report: {report}")


if __name__ == "__main__":
    raise SystemExit(main())
