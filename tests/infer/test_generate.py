"""Generation: reproducible under a seed, only A/C/G/T emitted, settings in every header, encoders refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genomefactory.infer.config import GenerateConfig, InferenceConfig
from genomefactory.infer.generate import sample_logits
from genomefactory.infer.run import run_inference
from genomefactory.models.registry import all_families
from genomefactory.records import read_fasta

# every registered family whose tiny model is a decoder: a new decoder family is covered by being registered
DECODERS = [f.name for f in all_families() if f.is_decoder(f.tiny_config())]


def _run(tmp_path: Path, family: str, name: str, **gen: object) -> list[tuple[str, str]]:
    out = tmp_path / name
    cfg = InferenceConfig.model_validate(
        {
            "mode": "generate",
            "model": {"family": family, "init": "tiny"},
            "generate": {
                "prompts": ["ACGTACGTAA", "GGGCCCAAATTTG"],
                "output": str(out),
                "num_samples": 2,
                "max_new_tokens": 12,
                **gen,
            },
        }
    )
    run_inference(cfg)
    headers = [line[1:].strip() for line in out.read_text().splitlines() if line.startswith(">")]
    return list(zip(headers, [s for _, s in read_fasta(out)], strict=True))


def test_the_decoder_matrix_holds_the_published_decoders() -> None:
    assert {"genomeocean", "evo", "hyenadna"} <= set(DECODERS)


@pytest.mark.parametrize("family", DECODERS)
def test_generation_is_seeded_and_dna_only(tmp_path: Path, family: str) -> None:
    a = _run(tmp_path, family, "a.fa", seed=7, top_k=3, top_p=0.9, temperature=1.5)
    b = _run(tmp_path, family, "b.fa", seed=7, top_k=3, top_p=0.9, temperature=1.5)
    c = _run(tmp_path, family, "c.fa", seed=8, top_k=3, top_p=0.9, temperature=1.5)
    assert a == b and len(a) == 4
    assert [s for _, s in a] != [s for _, s in c]
    for header, seq in a:
        assert set(seq) <= set("ACGT") and len(seq) >= 12  # at least one base per new token
        assert "prompt=" in header and "top_k=3" in header and "seed=7" in header
    assert a[0][0].startswith("prompt1_sample1 prompt=ACGTACGTAA")


def test_greedy_samples_agree_and_prompt_can_be_included(tmp_path: Path) -> None:
    recs = _run(tmp_path, "evo", "g.fa", greedy=True, include_prompt=True)
    assert recs[0][1] == recs[1][1] and recs[0][1].startswith("ACGTACGTAA") and len(recs[0][1]) == 22


def test_sampler_masks_non_dna_and_applies_top_k() -> None:
    g = GenerateConfig(top_k=2)
    logits = torch.tensor([[10.0, 5.0, 4.0, 3.0, -1.0]]).repeat(200, 1)
    allowed = torch.tensor([False, True, True, True, True])
    ids = sample_logits(logits, allowed, g, torch.Generator().manual_seed(0))
    assert set(ids.tolist()) == {1, 2}  # id 0 is not DNA; top-2 of the rest


def test_encoder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="encoder"):
        _run(tmp_path, "nucleotide_transformer", "x.fa")
