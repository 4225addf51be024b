"""The tuning-method registry: a method is one class + one register call; its name and its settings section are
found through the registry (config validation, --help, web UI forms, saving, reloading). Real GUE rows, tiny NT
model, CPU."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
import torch
from test_trainer import cfg_for, subsample_task

from genomefactory.config import ConfigError, describe_config, load_config
from genomefactory.train.config import MethodConfig, TrainConfig
from genomefactory.train.finetune import run_train
from genomefactory.train.methods import TuningMethod, get_method, method_names, register_method
from genomefactory.train.methods.registry import METHODS
from genomefactory.train.model_io import load_run_model


@pytest.fixture
def rows(shared_data: Path, tmp_path: Path) -> Path:
    return subsample_task(
        shared_data / "gue/prom/prom_core_tata", tmp_path / "rows", {"train": 48, "dev": 16, "test": 16}
    )


class LinearProbe(TuningMethod):
    """A method the trainer has never heard of: frozen backbone, one linear layer on the pooled states."""

    name = "test_linear_probe"
    title = "Linear probe"

    def build(self, backbone: Any, method_cfg: Any, task_type: str, num_labels: int) -> Any:
        from genomefactory.train.heads import TaskModel

        for p in backbone.base.parameters():
            p.requires_grad_(False)
        head = torch.nn.Linear(backbone.hidden_size, num_labels)
        pooling = method_cfg.pooling or backbone.family.pooling
        return TaskModel(backbone.family, backbone.base, head, pooling, task_type, num_labels)


@pytest.fixture
def probe() -> Iterator[None]:
    register_method(LinearProbe())
    yield
    METHODS.unregister("test_linear_probe")  # other tests list the registered methods


def test_a_registered_method_trains_end_to_end(rows: Path, tmp_path: Path, probe: None) -> None:
    assert "test_linear_probe" in method_names()
    run = tmp_path / "probe"
    # learning_rate left unset: a tiny (from-scratch) model gets the from-scratch default
    res = run_train(cfg_for(rows, run, "test_linear_probe", training__learning_rate=None))
    hidden = load_run_model(run).backbone.hidden_size
    assert res.trainable_params == hidden * 2 + 2  # the probe's weight and bias, nothing of the backbone
    assert {"mcc", "accuracy"} <= set(res.test_metrics)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["config"]["method"]["name"] == "test_linear_probe"
    assert manifest["config"]["training"]["learning_rate"] == 1e-3
    meta = json.loads((run / "model/genomefactory_model.json").read_text())
    assert meta["method"]["name"] == "test_linear_probe" and meta["weights"] == "full"
    # reloading asks the registry for the same method: the reloaded model reproduces the test predictions
    loaded = load_run_model(run)
    assert isinstance(loaded.model.head, torch.nn.Linear)
    test = pd.read_csv(rows / "test.csv")
    enc = loaded.backbone.tokenizer(test["sequence"].tolist()[:5], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = loaded.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    preds = pd.read_csv(run / "predictions_test.csv")
    torch.testing.assert_close(
        torch.softmax(logits, -1)[:, 1].double(),
        torch.tensor(preds["prob_1"].to_numpy()[:5]),
        atol=1e-4,
        rtol=0,
    )


def test_method_name_typo_names_the_closest_method(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"method\.name.*unknown tuning method 'lorra'\. Did you mean 'lora'\?"
    ):
        load_config(TrainConfig, None, {"data": {"path": "x"}, "method": {"name": "lorra"}})
    with pytest.raises(ConfigError, match=r"Did you mean 'adapter'\?"):
        load_config(TrainConfig, None, {"data": {"path": "x"}, "method": {"name": "adaptor"}})
    # names are matched like the other registries (case, '-' and '_' ignored) and stored as registered
    assert (
        load_config(TrainConfig, None, {"data": {"path": "x"}, "method": {"name": "LoRA"}}).method.name
        == "lora"
    )


def test_builtin_methods_in_order_with_their_sections() -> None:
    assert method_names()[:3] == ["full", "lora", "adapter"]
    rows = {key: help_text for key, _, _, help_text in describe_config(TrainConfig)}
    for name in ("full", "lora", "adapter"):
        method = get_method(name)
        if method.config_class is None:
            continue
        # every key of the method's own config class is in --help, under method.<section>, with its help
        for field, info in method.config_class.model_fields.items():
            key = f"method.{method.section_name()}.{field}"
            assert rows.get(key) == info.description and info.description, key
    assert get_method("full").config_class is None
    from genomefactory.webui.forms import form_fields

    specs = {s.key: s for s in form_fields(TrainConfig)}
    assert specs["method.adapter.cache_features"].show_if == [("method.name", "adapter")]
    assert (
        specs["method.lora.merge"].help == get_method("lora").config_class.model_fields["merge"].description
    )  # type: ignore[union-attr]


def _bb(source: str | None) -> Any:
    return SimpleNamespace(source=source)


@pytest.mark.parametrize("init", ["pretrained", "tiny", "random"])
@pytest.mark.parametrize("source", [None, "/ckpt"])
@pytest.mark.parametrize("merge", [False, True])
def test_what_each_method_saves(init: str, source: str | None, merge: bool) -> None:
    """The storage rule the trainer had inline: published weights + (adapter or unmerged LoRA) -> trainable only."""
    model_cfg = SimpleNamespace(init=init)
    published = source is not None and init == "pretrained"
    for name in ("full", "lora", "adapter"):
        cfg = MethodConfig(name=name)
        cfg.lora.merge = merge
        partial = published and (name == "adapter" or (name == "lora" and not merge))
        assert get_method(name).saves_full_backbone(cfg, _bb(source), model_cfg) is (not partial), name


def test_method_hooks_for_features_checkpointing_and_reloading() -> None:
    adapter, lora, full = get_method("adapter"), get_method("lora"), get_method("full")
    cfg = MethodConfig(name="adapter")
    assert adapter.uses_feature_cache(cfg) and adapter.feature_mode(cfg, "mean") == "mean"
    cfg.adapter.kind = "cnn"
    cfg.adapter.cache_dir = "/tmp/feats"
    assert adapter.feature_mode(cfg, "mean") == "token" and adapter.feature_cache_dir(cfg) == "/tmp/feats"
    cfg.adapter.cache_features = False
    assert not adapter.uses_feature_cache(cfg)
    assert not lora.uses_feature_cache(MethodConfig(name="lora")) and not full.uses_feature_cache(
        MethodConfig()
    )
    assert not adapter.supports_checkpointing and lora.supports_checkpointing and full.supports_checkpointing
    assert (
        lora.rebuild_as({"lora_merged": True}) == "full" and lora.rebuild_as({"lora_merged": False}) == "lora"
    )
    assert adapter.rebuild_as({}) == "adapter" and full.rebuild_as({}) == "full"


def test_method_registry_imports_without_torch() -> None:
    code = (
        "import sys\n"
        "from genomefactory.train.methods import get_method, method_names\n"
        "assert method_names()[:3] == ['full', 'lora', 'adapter'], method_names()\n"
        "assert get_method('lora').config_class.__name__ == 'LoraConfig'\n"
        "heavy = sorted(m for m in ('torch', 'peft', 'transformers') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    src = Path(__file__).resolve().parents[2] / "src"
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": str(src), "PATH": ""})
