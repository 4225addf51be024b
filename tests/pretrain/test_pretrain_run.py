"""``pretrain`` end to end on real genomes: validation perplexity falls, and the saved checkpoint (the family's
published layout) loads strictly as ``model.path`` for every registered family, with the trained weights."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from genomefactory.config import ConfigError, validate_dict
from genomefactory.models import ModelConfig, load_backbone
from genomefactory.models.registry import all_families
from genomefactory.pretrain.config import PretrainConfig
from genomefactory.pretrain.run import run_pretrain

torch.set_num_threads(1)


def _cfg(out: Path, genome: Path, family: str, **over: Any) -> PretrainConfig:
    data = {"paths": [str(genome)], "window": 64, "val_windows": 8, **over.pop("data", {})}
    training = {
        "max_steps": 2,
        "batch_size": 4,
        "eval_batch_size": 8,
        "logging_steps": 1,
        **over.pop("training", {}),
    }
    return validate_dict(
        PretrainConfig,
        {
            "model": {"family": family, "init": "tiny"},
            "data": data,
            "training": training,
            "output_dir": str(out),
            **over,
        },
    )


def _hiv(shared_data: Path, where: Path) -> Path:
    """HIV-1 (9.2 kb, one record), copied so that pyfaidx's .fai is built there, never in the shared data."""
    where.mkdir(parents=True, exist_ok=True)
    out = where / "hiv1.fa"
    shutil.copyfile(shared_data / "genomes" / "NC_001802.fna", out)
    return out


@pytest.mark.parametrize(
    ("family", "objective"), [("hyenadna", "clm"), ("caduceus", "mlm")], ids=["hyenadna-clm", "caduceus-mlm"]
)
def test_validation_perplexity_falls_on_a_real_genome(
    tmp_path: Path, shared_data: Path, family: str, objective: str
) -> None:
    genome = shared_data / "genomes" / "lambda_NC_001416.1.fasta.gz"  # phage lambda, 48.5 kb, one record
    cfg = _cfg(
        tmp_path / "run",
        genome,
        family,
        data={"window": 128, "val_windows": 16},
        training={"max_steps": 30, "batch_size": 8, "eval_steps": 10, "learning_rate": 3e-3},
    )
    res = run_pretrain(cfg)
    assert res.objective == objective and [s for s, _ in res.curve] == [0, 10, 20, 30]
    ppl = [p for _, p in res.curve]
    # a random 1-bp model starts near its vocabulary size (16 ids); a model of lambda's base composition alone
    # scores ~4.0: the curve falls at every evaluation, most of the way there
    assert ppl[0] > 8 and ppl[-1] < 5.0 and all(b < a for a, b in itertools.pairwise(ppl))
    metrics = json.loads((res.output_dir / "metrics.json").read_text())
    assert metrics["val_perplexity_final"] == ppl[-1] and metrics["val_records"] == ["NC_001416.1"]
    assert metrics["val_bases"] == round(0.1 * 48502)  # the held-out last tenth of the only record


@pytest.mark.parametrize("family", [f.name for f in all_families()])
def test_saved_checkpoint_loads_strictly_as_model_path(
    tmp_path: Path, shared_data: Path, family: str
) -> None:
    genome = _hiv(shared_data, tmp_path)
    torch.manual_seed(0)
    initial = load_backbone(ModelConfig(family=family, init="tiny")).model.state_dict()
    res = run_pretrain(_cfg(tmp_path / "run", genome, family, training={"learning_rate": 1e-2}))
    path = res.files["model"]
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()
    # hf_auto is any transformers checkpoint: it is named, every native family is detected from its own files
    loaded = load_backbone(ModelConfig(path=str(path), family="hf_auto" if family == "hf_auto" else None))
    assert loaded.family.name == family
    trained = loaded.model.state_dict()
    assert set(trained) == set(initial)
    assert any(not torch.equal(trained[k], initial[k]) for k in trained if trained[k].is_floating_point())
    # the reloaded model is the trained one: same logits as a second load of the same folder
    again = load_backbone(ModelConfig(path=str(path), family="hf_auto" if family == "hf_auto" else None))
    enc = loaded.tokenizer(["ACGTACGGTTACGATCGATTTACG"], return_tensors="pt")
    with torch.no_grad():
        a = loaded.model.eval()(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
        b = again.model.eval()(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    assert torch.equal(a, b)


def test_objective_must_fit_the_model(tmp_path: Path, shared_data: Path) -> None:
    genome = _hiv(shared_data, tmp_path / "in")
    with pytest.raises(ConfigError, match="clm needs a causal decoder"):
        run_pretrain(_cfg(tmp_path / "a", genome, "nucleotide_transformer", objective={"type": "clm"}))
    with pytest.raises(ConfigError, match="mlm needs a mask token"):
        run_pretrain(_cfg(tmp_path / "b", genome, "evo", objective={"type": "mlm"}))
    with pytest.raises(ConfigError, match="more than nucleotide_transformer's maximum"):
        run_pretrain(_cfg(tmp_path / "c", genome, "nucleotide_transformer", data={"window": 3000}))
    assert [p.name for p in tmp_path.iterdir()] == ["in"]  # nothing written before the checks pass
