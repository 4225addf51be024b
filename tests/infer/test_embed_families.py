"""Embedding extraction for every registered family (tiny random models): ``inference`` with ``mode: embed``
equals the mask-aware pooling of each sequence's own forward pass (a new family is covered by being registered).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genomefactory.infer.config import InferenceConfig
from genomefactory.infer.run import run_inference
from genomefactory.infer.store import read_embeddings
from genomefactory.models import ModelConfig, load_backbone
from genomefactory.models.pooling import pool
from genomefactory.models.registry import all_families

torch.set_num_threads(1)
SEQS = ["ACGTACGTTAGCCATGACGTAGCTAGCTAGGATCCA", "TTGACAGGCA", "GGGCCCAAATTTAACGTACGATCGATGCATGCATCGA"]


@pytest.mark.parametrize("family", [f.name for f in all_families()])
def test_embed_equals_pooling_of_each_sequence_alone(tmp_path: Path, family: str) -> None:
    fa = tmp_path / "in.fa"
    fa.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(SEQS)))
    out = tmp_path / "e.parquet"
    cfg = InferenceConfig.model_validate(
        {
            "mode": "embed",
            "model": {"family": family, "init": "tiny"},
            "embed": {"input": str(fa), "output": str(out), "progress": False, "seed": 3, "device": "cpu"},
        }
    )
    run_inference(cfg)
    table = read_embeddings(out)
    got = np.asarray(table.vectors)
    with torch.random.fork_rng(devices=[]):  # the same weights: tiny models are drawn under embed.seed
        torch.manual_seed(3)
        bb = load_backbone(ModelConfig(family=family, init="tiny"))
    bb.model.eval()
    assert got.shape == (len(SEQS), bb.hidden_size) and np.isfinite(got).all()
    for i, seq in enumerate(SEQS):
        enc = bb.tokenizer(seq, return_tensors="pt")
        with torch.no_grad():
            h = bb.family.encode(bb.base, enc["input_ids"], enc["attention_mask"]).last_hidden_state
        want = pool(h, enc["attention_mask"], "mean")[0].numpy()
        np.testing.assert_allclose(got[i], want, rtol=1e-4, atol=1e-5)
