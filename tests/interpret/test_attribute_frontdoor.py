"""``attribute`` front door, through the CLI: every bad input is one ``error:`` line (exit 2) naming the file,
row, key or value, and a refused run leaves no output folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from genomefactory.cli import main
from genomefactory.config import validate_dict
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train
from genomefactory.variants.demo import plant_task


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny hyenadna classifier trained 1 step on 40-base planted-motif sequences."""
    root = tmp_path_factory.mktemp("attr_fd")
    cfg = {
        "model": {"family": "hyenadna", "init": "tiny"},
        "data": {"path": str(plant_task(root / "task", n=32, length=40, seed=0))},
        "method": {"name": "full"},
        "training": {"max_steps": 1, "batch_size": 16, "eval_steps": 100, "logging_steps": 100, "seed": 0},
        "output_dir": str(root / "run"),
    }
    run_train(validate_dict(TrainConfig, cfg))
    return root / "run"


def _damaged(run: Path, tmp: Path, meta: str | None, drop_weights: bool = False) -> Path:
    copy = tmp / "damaged"
    shutil.copytree(run / "model", copy / "model")
    if meta is not None:
        (copy / "model" / "genomefactory_model.json").write_text(meta)
    if drop_weights:
        (copy / "model" / "model.safetensors").unlink()
    return copy


_SEQS = "id,sequence\n" + "".join(f"s{i},{'ACGTACGTAC' * 4}\n" for i in range(3))

# (case id, files to write {name: text}, overrides (may name "{tmp}" and "{run}"), expected fragment)
_BAD: list[tuple[str, dict[str, str], dict[str, object], str]] = [
    ("empty fasta", {"in.fa": ""}, {}, "is empty"),
    ("not fasta", {"in.fa": "hello\n"}, {}, "before the first '>' header"),
    ("no sequence column", {"in.csv": "id,label\nx,1\n"}, {}, "no sequence column"),
    ("non-ACGT", {"in.csv": "id,sequence\na,ACGTXXACGT\n"}, {}, "invalid character 'X'"),
    ("zero-length", {"in.csv": "id,sequence\na,ACGTACGTAC\nb,\n"}, {}, "row 2: sequence is empty"),
    ("window_start past end", {"in.csv": _SEQS}, {"window_start": 100}, "not longer than window_start 100"),
    (
        "window_end past end",
        {"in.csv": _SEQS},
        {"window_end": 1000},
        "window_end 1000 is past the end of every sequence",
    ),
    ("target out of range", {"in.csv": _SEQS}, {"target": 10**9}, "is not a class of this model"),
    ("not a run", {"in.csv": _SEQS}, {"run_dir": "{tmp}"}, "is not a genomefactory training run"),
    ("meta not JSON", {"in.csv": _SEQS}, {"run_dir": "damaged:garbage{"}, "is not valid JSON"),
    ("meta without keys", {"in.csv": _SEQS}, {"run_dir": "damaged:{}"}, "lacks family, weights"),
    ("no weights", {"in.csv": _SEQS}, {"run_dir": "damaged-weights"}, "model.safetensors is missing"),
    ("device garbage", {"in.csv": _SEQS}, {"compute": {"device": "garbage"}}, "is not a device"),
    (
        "BED short row",
        {"in.csv": _SEQS, "c.bed": "chr1\t0\n"},
        {"coordinates": {"bed_file": "{tmp}/c.bed"}},
        "a BED row needs chrom, start, end",
    ),
]


def _resolve(value: object, tmp: Path, run: Path) -> object:
    if isinstance(value, dict):
        return {k: _resolve(v, tmp, run) for k, v in value.items()}
    if isinstance(value, str):
        if value.startswith("damaged:"):
            return str(_damaged(run, tmp, value.removeprefix("damaged:")))
        if value == "damaged-weights":
            return str(_damaged(run, tmp, None, drop_weights=True))
        return value.replace("{tmp}", str(tmp)).replace("{run}", str(run))
    return value


@pytest.mark.parametrize(("case", "files", "over", "fragment"), _BAD, ids=[b[0] for b in _BAD])
def test_bad_input_is_one_error_line(
    run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    files: dict[str, str],
    over: dict[str, object],
    fragment: str,
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    data: dict[str, object] = {
        "run_dir": str(run),
        "input": str(tmp_path / next(iter(files))),
        "report_top": 0,
        "output_dir": str(tmp_path / "out"),
        "compute": {"device": "cpu"},
    }
    data.update({k: _resolve(v, tmp_path, run) for k, v in over.items()})
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(data))
    assert main(["attribute", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "Traceback" not in err and "\n" not in err, err
    assert fragment in err, err
    assert not (tmp_path / "out").exists(), "a refused run must leave no output folder"


def test_cuda_device_without_gpu_is_refused(run: Path, tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: cuda is a valid device here")
    from genomefactory.config import ConfigError
    from genomefactory.models.loading import check_device

    with pytest.raises(ConfigError, match="no CUDA GPU is available"):
        check_device("cuda:7", "compute.device")
    assert json.loads((run / "model" / "genomefactory_model.json").read_text())["family"] == "hyenadna"
