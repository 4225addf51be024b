"""Commands that explain or score one value per sequence refuse a per-base run with one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genomefactory.errors import DataError
from genomefactory.models.loading import ModelConfig


def _per_base_run(tmp_path: Path, task: str) -> Path:
    model = tmp_path / "run" / "model"
    model.mkdir(parents=True)
    meta = {
        "family": "hyenadna",
        "weights": "tiny",
        "method": "full",
        "task_type": task,
        "num_labels": 3,
        "max_length": 64,
        "pooling": "mean",
    }
    (model / "genomefactory_model.json").write_text(json.dumps(meta))
    (model / "model.safetensors").write_bytes(b"")
    return model.parent


@pytest.mark.parametrize("task", ["per_base_classification", "per_base_regression"])
def test_attribute_and_variants_refuse_per_base_runs(tmp_path: Path, task: str) -> None:
    from genomefactory.interpret.attribute.run import _check_run
    from genomefactory.variants.engine import load_handle

    run = _per_base_run(tmp_path, task)
    with pytest.raises(DataError, match=f"run_dir .* is a {task} run"):
        _check_run(str(run))
    with pytest.raises(DataError, match=f"model.path .* is a {task} run"):
        load_handle(ModelConfig(path=str(run)))
