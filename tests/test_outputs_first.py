"""Outputs are checked before any work, and folders are made last: a wrong output is one `error:` line, the model
is never loaded, nothing is left behind. `sae_train` refuses a non-empty output folder like `train` does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from genomefactory.cli import main
from genomefactory.config import ConfigError, load_config
from genomefactory.errors import UserError
from genomefactory.io import OutputExistsError, check_output_dir, check_output_file


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Loading a model is an error here: the commands must refuse their outputs before they get that far."""
    import genomefactory.infer.embed as embed
    import genomefactory.infer.generate as generate
    import genomefactory.infer.predict as predict

    calls: list[str] = []

    def boom(*args: Any, **kw: Any) -> Any:
        calls.append("load")
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(embed, "load_for_inference", boom)
    monkeypatch.setattr(generate, "load_for_inference", boom)
    monkeypatch.setattr(predict, "load_run_model", boom)
    monkeypatch.setattr(predict, "is_run_model", lambda path: True)
    return calls


def _fasta(tmp_path: Path) -> Path:
    path = tmp_path / "in.fa"
    path.write_text(">a\nACGTACGTAC\n>b\nGGGCCCATAT\n")
    return path


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("output", ["x.txt", "x", "sub/x.json"])
def test_embed_output_suffix_refused_before_embedding(
    tmp_path: Path, no_model: list[str], output: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fasta = _fasta(tmp_path)
    before = _listing(tmp_path)
    code = main(["inference", "mode=embed", f"embed.input={fasta}", f"embed.output={tmp_path / output}"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: embed.output") and "unknown suffix" in err
    assert "use .parquet, .npy, .csv" in err and len(err.strip().splitlines()) == 1
    assert no_model == [] and _listing(tmp_path) == before  # no .parts/, no folder, no manifest


def test_inference_outputs_that_cannot_be_written_are_refused_first(
    tmp_path: Path, no_model: list[str]
) -> None:
    fasta = _fasta(tmp_path)
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    cases = [
        ["mode=embed", f"embed.input={fasta}", f"embed.output={tmp_path / 'adir'}.parquet/"],
        ["mode=generate", "generate.prompts=[ACGT]", f"generate.output={tmp_path / 'adir'}"],
        ["mode=generate", "generate.prompts=[ACGT]", f"generate.output={tmp_path / 'afile' / 'g.fa'}"],
        ["mode=predict", "model.path=run", f"predict.input={fasta}", f"predict.output={tmp_path / 'adir'}"],
    ]
    (tmp_path / "adir.parquet").mkdir()
    before = _listing(tmp_path)
    for args in cases:
        assert main(["inference", *args]) == 2, args
    assert no_model == [] and _listing(tmp_path) == before


def _embeddings(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "emb.csv"
    frame = pd.DataFrame(rng.normal(size=(40, 8)), columns=[f"e{i}" for i in range(8)])
    frame.insert(0, "id", [f"s{i}" for i in range(40)])
    frame.insert(1, "sequence", ["ACGT" * (1 + i % 5) for i in range(40)])
    frame.to_csv(path, index=False)
    return path


def test_sae_train_refuses_a_non_empty_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    emb = _embeddings(tmp_path)
    out = tmp_path / "sae"
    args = ["sae_train", f"embeddings={emb}", f"output={out}", "steps=5", "sae.d_hidden=16", "sae.k=4"]
    assert main(args) == 0
    weights = (out / "sae.safetensors").read_bytes()
    capsys.readouterr()
    assert main([*args, "seed=3"]) == 2
    err = capsys.readouterr().err
    assert "output" in err and "is not empty" in err and "overwrite=true" in err
    assert (out / "sae.safetensors").read_bytes() == weights  # untouched
    assert main([*args, "seed=3", "overwrite=true"]) == 0
    assert (out / "sae.safetensors").read_bytes() != weights
    assert json.loads((out / "metrics.json").read_text())["n_vectors"] == 40


def test_sae_train_and_regression_make_nothing_on_bad_input(tmp_path: Path) -> None:
    emb = _embeddings(tmp_path)
    assert (
        main(["sae_train", f"output={tmp_path / 'sae'}", "steps=2"]) == 2
    )  # neither embeddings nor data_file
    assert not (tmp_path / "sae").exists()
    assert main(["sae_train", f"embeddings={tmp_path / 'none.csv'}", f"output={tmp_path / 'sae'}"]) == 2
    assert not (tmp_path / "sae").exists()
    (tmp_path / "taken").write_text("x")
    reg = ["sae_regression", f"embeddings={emb}", f"sae_checkpoint={tmp_path / 'nosae'}"]
    assert main([*reg, f"output={tmp_path / 'taken'}"]) == 2  # a file where the folder should go
    assert main([*reg, f"output={tmp_path / 'interp'}"]) == 2  # no SAE checkpoint there
    assert not (tmp_path / "interp").exists()


def test_check_output_helpers(tmp_path: Path) -> None:
    assert check_output_dir(tmp_path / "new" / "deeper", overwrite=False) == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checks create nothing
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "source_cache").mkdir()
    check_output_dir(tmp_path / "full", overwrite=False, ignore=("source_cache",))
    (tmp_path / "full" / "train.csv").write_text("x")
    with pytest.raises(OutputExistsError, match=r"train\.csv"):
        check_output_dir(tmp_path / "full", overwrite=False)
    check_output_dir(tmp_path / "full", overwrite=True)
    with pytest.raises(ConfigError, match=r"unknown suffix '\.txt'"):
        check_output_file(tmp_path / "x.txt", "embed.output", (".parquet",))
    with pytest.raises(UserError, match="is a file, not a folder"):
        check_output_file(tmp_path / "full" / "train.csv" / "x.csv", "out")


def test_examples_that_write_folders_know_the_overwrite_switch() -> None:
    from genomefactory.collect.config import ProcessConfig
    from genomefactory.interpret.config import SAETrainConfig

    root = Path(__file__).resolve().parents[1]
    assert load_config(SAETrainConfig, root / "examples" / "sae_train.yaml").overwrite is False
    assert load_config(ProcessConfig, root / "examples" / "process_normal.yaml").overwrite is False
