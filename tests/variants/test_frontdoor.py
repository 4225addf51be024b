"""``variants`` front door: a ``model.path`` run folder that is damaged is one ``error:`` line, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from genomefactory.cli import main

_GENOME = ">c1\n" + "ACGTTGCA" * 20 + "\n"


@pytest.mark.parametrize(
    ("meta", "weights", "fragment"),
    [
        ("garbage{", True, "is not valid JSON"),
        ("{}", True, "lacks family, weights"),
        ('["a list"]', True, "lacks family, weights"),
        (None, False, "model.safetensors is missing"),
    ],
    ids=["not-json", "no-keys", "not-an-object", "no-weights"],
)
def test_damaged_run_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], meta: str | None, weights: bool, fragment: str
) -> None:
    run = tmp_path / "run" / "model"
    run.mkdir(parents=True)
    (run / "genomefactory_model.json").write_text(
        meta
        if meta is not None
        else '{"family": "hyenadna", "weights": "full", "method": {}, '
        '"task_type": "classification", "num_labels": 2, "max_length": 64, "pooling": "mean"}'
    )
    if weights:
        (run / "model.safetensors").write_bytes(b"")
    (tmp_path / "g.fa").write_text(_GENOME)
    (tmp_path / "v.tsv").write_text("chrom\tpos\tref\talt\nc1\t10\tT\tA\n")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "model": {"path": str(tmp_path / "run")},
                "input": str(tmp_path / "v.tsv"),
                "genome": str(tmp_path / "g.fa"),
                "output": str(tmp_path / "out" / "o.tsv"),
                "window": {"size": 40},
                "scores": ["finetuned"],
                "compute": {"progress": False},
            }
        )
    )
    assert main(["variants", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "Traceback" not in err and "\n" not in err, err
    assert fragment in err, err
    assert not (tmp_path / "out").exists()


def test_unknown_device_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "g.fa").write_text(_GENOME)
    (tmp_path / "v.tsv").write_text("chrom\tpos\tref\talt\nc1\t10\tT\tA\n")
    args = [
        f"input={tmp_path / 'v.tsv'}",
        f"genome={tmp_path / 'g.fa'}",
        f"output={tmp_path / 'out' / 'o.tsv'}",
    ]
    over = ["model.family=hf_auto", "model.init=tiny", "window.size=40", "compute.device=garbage"]
    assert main(["variants", *args, *over]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: compute.device 'garbage' is not a device") and "\n" not in err, err
    assert not (tmp_path / "out").exists()
