"""A ``pretrain`` checkpoint is a ``model.path`` for every command: ``train`` (fine-tuning starts from the
pre-trained weights), ``inference`` embed and generate, and ``variants`` (masked marginal from the MLM head,
log-likelihood from the causal LM head)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from genomefactory.config import validate_dict
from genomefactory.infer.config import InferenceConfig
from genomefactory.infer.run import run_inference
from genomefactory.infer.store import read_embeddings
from genomefactory.models import ModelConfig, load_backbone
from genomefactory.models.pooling import pool
from genomefactory.pretrain.config import PretrainConfig
from genomefactory.pretrain.run import run_pretrain
from genomefactory.records import read_fasta
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train
from genomefactory.variants.config import VariantsConfig
from genomefactory.variants.run import run_variants

torch.set_num_threads(1)
HIV = "gi|9629357|ref|NC_001802.1|"  # the FASTA header's first word


@pytest.fixture(scope="module")
def genome(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("genome") / "hiv1.fa"  # its .fai is built here, never in the shared data
    shutil.copyfile(shared_data / "genomes" / "NC_001802.fna", out)
    return out


@pytest.fixture(scope="module", params=["nucleotide_transformer", "hyenadna"])
def checkpoint(
    request: pytest.FixtureRequest, genome: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp(f"pre_{request.param}")
    cfg = validate_dict(
        PretrainConfig,
        {
            "model": {"family": request.param, "init": "tiny"},
            "data": {"paths": [str(genome)], "window": 96, "val_windows": 4},
            "training": {"max_steps": 3, "batch_size": 4, "learning_rate": 1e-2},
            "output_dir": str(out / "run"),
        },
    )
    return run_pretrain(cfg).files["model"]


def _task(shared_data: Path, where: Path) -> Path:
    """60/30/30 rows of GUE prom_core_tata (the first rows of each split), enough to run a step, not to learn."""
    where.mkdir(parents=True, exist_ok=True)
    src = shared_data / "gue" / "prom" / "prom_core_tata"
    for split, n in (("train", 60), ("dev", 30), ("test", 30)):
        df = pd.read_csv(src / f"{split}.csv")
        pd.concat([df[df.label == 0].head(n // 2), df[df.label == 1].head(n // 2)]).to_csv(
            where / f"{split}.csv", index=False
        )
    return where


def test_train_starts_from_the_pretrained_weights(
    checkpoint: Path, shared_data: Path, tmp_path: Path
) -> None:
    cfg = validate_dict(
        TrainConfig,
        {
            "model": {"path": str(checkpoint)},
            "data": {"path": str(_task(shared_data, tmp_path / "task"))},
            "method": {"name": "full"},
            "training": {"max_steps": 1, "batch_size": 8, "learning_rate": 1e-12, "seed": 1},
            "output_dir": str(tmp_path / "ft"),
        },
    )
    res = run_train(cfg)
    assert "mcc" in res.test_metrics
    # at a vanishing learning rate the fine-tuned backbone is the pre-trained one
    from genomefactory.train.model_io import load_run_model

    run = load_run_model(res.output_dir)
    assert run.model.backbone is not None
    tuned = run.model.backbone.state_dict()  # the task model's backbone (the LM head is not part of it)
    pre = load_backbone(ModelConfig(path=str(checkpoint))).base.state_dict()
    assert set(tuned) == set(pre)
    for k, v in pre.items():
        if v.is_floating_point():
            torch.testing.assert_close(tuned[k], v, rtol=0, atol=1e-6)


def test_embed_and_generate_use_the_checkpoint(checkpoint: Path, tmp_path: Path) -> None:
    fa = tmp_path / "in.fa"
    seqs = ["ACGTACGTTAGCCATGACGTAGCTAGCTAGGATCCA", "TTGACAGGCATTACGGAT"]
    fa.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(seqs)))
    out = tmp_path / "e.parquet"
    run_inference(
        InferenceConfig.model_validate(
            {
                "mode": "embed",
                "model": {"path": str(checkpoint)},
                "embed": {"input": str(fa), "output": str(out), "progress": False, "device": "cpu"},
            }
        )
    )
    got = np.asarray(read_embeddings(out).vectors)
    bb = load_backbone(ModelConfig(path=str(checkpoint)))
    bb.model.eval()
    for i, seq in enumerate(seqs):
        enc = bb.tokenizer(seq, return_tensors="pt")
        with torch.no_grad():
            h = bb.family.encode(bb.base, enc["input_ids"], enc["attention_mask"]).last_hidden_state
        np.testing.assert_allclose(
            got[i], pool(h, enc["attention_mask"], "mean")[0].numpy(), rtol=1e-4, atol=1e-5
        )
    if not bb.family.is_decoder(bb.config):
        return
    gen = tmp_path / "g.fa"
    run_inference(
        InferenceConfig.model_validate(
            {
                "mode": "generate",
                "model": {"path": str(checkpoint)},
                "generate": {"prompts": ["ACGTACGTAA"], "output": str(gen), "max_new_tokens": 8, "seed": 1},
            }
        )
    )
    ((_, s),) = list(read_fasta(gen))
    assert len(s) >= 8 and set(s) <= set("ACGT")


def test_variants_score_with_the_checkpoints_lm_head(checkpoint: Path, genome: Path, tmp_path: Path) -> None:
    seq = genome.read_text().split("\n", 1)[1].replace("\n", "")
    tsv = tmp_path / "v.tsv"
    tsv.write_text(
        "chrom\tpos\tref\talt\n"
        + "".join(f"{HIV}\t{p}\t{seq[p - 1]}\t{'A' if seq[p - 1] != 'A' else 'C'}\n" for p in (500, 900))
    )
    decoder = load_backbone(ModelConfig(path=str(checkpoint))).family.kind == "decoder"
    score = "loglik" if decoder else "masked_marginal"
    cfg = validate_dict(
        VariantsConfig,
        {
            "model": {"path": str(checkpoint)},
            "input": str(tsv),
            "genome": str(genome),
            "output": str(tmp_path / "v.out.tsv"),
            "scores": [score],
            "window": {"size": 60},
        },
    )
    df = pd.read_csv(run_variants(cfg).output, sep="\t")
    assert (df["status"] == "ok").all() and len(df) >= 2 and np.isfinite(df["value"]).all()
