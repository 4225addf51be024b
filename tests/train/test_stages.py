"""The stages of ``run_train``: config and data are validated before the run folder exists; one-class splits are
refused; the from-scratch learning rate; one prediction writer for training and ``inference`` predict. Real GUE
rows, tiny NT model, CPU."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_trainer import cfg_for, subsample_task

from genomefactory.config import ConfigError, load_config
from genomefactory.errors import DataError, UserError
from genomefactory.train.finetune import run_train
from genomefactory.train.predictions import prediction_table, write_predictions
from genomefactory.train.stages import prepare_splits


@pytest.fixture
def rows(shared_data: Path, tmp_path: Path) -> Path:
    return subsample_task(
        shared_data / "gue/prom/prom_core_tata", tmp_path / "rows", {"train": 48, "dev": 16, "test": 16}
    )


def _copy(rows: Path, dst: Path) -> Path:
    shutil.copytree(rows, dst)
    return dst


def test_data_errors_leave_no_run_folder(rows: Path, tmp_path: Path) -> None:
    missing = _copy(rows, tmp_path / "missing")
    (missing / "dev.csv").unlink()
    bad_char = _copy(rows, tmp_path / "char")
    df = pd.read_csv(bad_char / "test.csv")
    df.loc[3, "sequence"] = "ACGTXACGT"
    df.to_csv(bad_char / "test.csv", index=False)
    cases = [
        (missing, r"missing data file .*dev\.csv"),
        (bad_char, r"test\.csv row 4: invalid character 'X'"),
        (tmp_path / "no_such_folder", "is not a folder"),
    ]
    for i, (data, pattern) in enumerate(cases):
        run = tmp_path / f"runs{i}" / "nested" / "run"
        with pytest.raises(DataError, match=pattern):
            run_train(cfg_for(data, run, "lora"))
        assert not (tmp_path / f"runs{i}").exists(), pattern  # not even the parent folders


def test_bad_lora_target_leaves_no_run_folder(rows: Path, tmp_path: Path) -> None:
    cfg = cfg_for(rows, tmp_path / "run", "lora")
    cfg.method.lora.target_modules = ["not_a_layer"]
    with pytest.raises(ConfigError, match="matches no linear layer"):
        run_train(cfg)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_one_class_split_is_refused(split: str, rows: Path, tmp_path: Path) -> None:
    data = _copy(rows, tmp_path / "one")
    for name in ("train", "dev", "test"):  # the label lives in a column of another name
        df = pd.read_csv(data / f"{name}.csv").rename(columns={"label": "is_promoter"})
        if name == split:
            df["is_promoter"] = 1
        df.to_csv(data / f"{name}.csv", index=False)
    cfg = cfg_for(data, tmp_path / "run", "full", data__label_column="is_promoter")
    with pytest.raises(DataError) as err:
        run_train(cfg)
    msg = str(err.value)
    assert str(data / f"{split}.csv") in msg and "'is_promoter'" in msg and "one class only" in msg
    assert not (tmp_path / "run").exists()
    # the rule is about classes: a regression task on the same values is accepted
    reg = cfg_for(data, tmp_path / "reg", "full", task="regression", data__label_column="is_promoter")
    assert prepare_splits(reg).num_labels == 1


def test_from_scratch_learning_rate_default(rows: Path, tmp_path: Path) -> None:
    from genomefactory.models.registry import get_family
    from genomefactory.train.stages import FROM_SCRATCH_LEARNING_RATE, resolve_learning_rate

    fam = get_family("nucleotide_transformer")
    assert fam.learning_rate < FROM_SCRATCH_LEARNING_RATE == 1e-3
    for init, want in (("tiny", 1e-3), ("random", 1e-3), ("pretrained", fam.learning_rate)):
        cfg = cfg_for(rows, tmp_path / "x", "lora", training__learning_rate=None, model__init=init)
        assert resolve_learning_rate(cfg, fam) == want, init
    explicit = cfg_for(rows, tmp_path / "x", "lora", training__learning_rate=2e-4, model__init="tiny")
    assert resolve_learning_rate(explicit, fam) == 2e-4


def test_config_errors_are_user_errors(rows: Path, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy/x").write_text("x")
    with pytest.raises(UserError, match="is not empty"):
        run_train(cfg_for(rows, tmp_path / "busy", "full"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        run_train(cfg_for(rows, tmp_path / "file", "full"))


def test_prediction_writer_reference(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(7, 3)).astype(np.float32)
    base = pd.DataFrame({"row": range(7), "label": rng.integers(0, 3, 7)})
    got = write_predictions(tmp_path / "p.csv", base, logits, "classification")
    assert list(got.columns) == ["row", "label", "prediction", "prob_0", "prob_1", "prob_2"]
    x = logits.astype(np.float64)
    want = np.exp(x) / np.exp(x).sum(1, keepdims=True)  # brute-force softmax
    np.testing.assert_allclose(got[["prob_0", "prob_1", "prob_2"]].to_numpy(), want, rtol=1e-12)
    assert (got["prediction"].to_numpy() == x.argmax(1)).all()
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "p.csv"), got, check_dtype=False)
    reg = prediction_table(base, logits[:, :1], "regression")
    assert list(reg.columns) == ["row", "label", "prediction"]
    np.testing.assert_array_equal(reg["prediction"].to_numpy(), x[:, 0])
    assert list(base.columns) == ["row", "label"]  # the caller's table is not changed


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_train_and_predict_write_the_same_predictions(task: str, shared_data: Path, tmp_path: Path) -> None:
    from genomefactory.infer.config import InferenceConfig
    from genomefactory.infer.run import run_inference

    data = subsample_task(
        shared_data / "gue/prom/prom_core_tata",
        tmp_path / "rows",
        {"train": 48, "dev": 16, "test": 16},
        regression=task == "regression",
    )
    run = tmp_path / "run"
    run_train(cfg_for(data, run, "lora", task, training__epochs=1))
    out = tmp_path / "pred.csv"
    run_inference(
        load_config(
            InferenceConfig,
            None,
            {
                "mode": "predict",
                "model": {"path": str(run)},
                "predict": {"input": str(data / "test.csv"), "output": str(out)},
            },
        )
    )
    trained = pd.read_csv(run / "predictions_test.csv")
    predicted = pd.read_csv(out)
    added = [c for c in predicted.columns if c not in ("id", "sequence", "label")]
    assert added == [c for c in trained.columns if c not in ("row", "label")]  # same columns, same order
    assert added == (["prediction", "prob_0", "prob_1"] if task == "classification" else ["prediction"])
    assert list(predicted.columns[-len(added) :]) == added  # after the input's columns
    np.testing.assert_allclose(predicted[added].to_numpy(), trained[added].to_numpy(), atol=1e-5)
