"""``pretrain`` front door: every bad input is one ``error:`` line (exit 2) naming what is wrong, and a refused
or failed run leaves no output folder and no index file beside a refused FASTA."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import yaml

from genomefactory.cli import main

_GOOD = ">r1\n" + "ACGT" * 100 + "\n>r2\n" + "TTGCA" * 80 + "\n"


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


# (file name, content, extra top-level overrides, expected message fragment)
_BAD: list[tuple[str, str | bytes, dict[str, object], str]] = [
    ("missing.fa", "", {}, "not found"),
    ("empty.fa", "", {}, "is not a readable FASTA file"),
    ("garbage.fa", "this is not FASTA\n", {}, "is not a readable FASTA file"),
    ("table.csv", "id,label\nx,1\n", {}, "is not a readable FASTA file"),
    ("fake.fa.gz", "ACGT not gzip\n", {}, "is named as compressed but is not gzip/bgzip data"),
    ("dup.fa", ">a\nACGT\n>a\nACGT\n", {}, 'record name "a" occurs twice'),
    ("nonacgt.fa", ">r1\n" + "ACGT" * 100 + "\n>r2\n" + "ACGX" * 100 + "\n", {}, "invalid character 'X'"),
    ("short.fa", ">a\nACGT\n", {}, "too short"),
    ("good.fa", _GOOD, {"data": {"window": 10**8}}, "no training sequence of at least data.window=100000000"),
    ("good.fa", _GOOD, {"data": {"val_contigs": ["nope"]}}, "are not records of data.paths"),
    ("good.fa", _GOOD, {"model": {"family": "hyenadna", "init": "tiny", "path": "x"}}, "would be ignored"),
]


def _cli_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], fasta: Path, **over: object) -> str:
    data = {
        "model": {"family": "hyenadna", "init": "tiny"},
        "training": {"max_steps": 1, "batch_size": 2, "eval_batch_size": 2},
        "output_dir": str(tmp_path / "out"),
        **over,
    }
    data["data"] = {"paths": [str(fasta)], "window": 64, "val_windows": 2, **dict(over.get("data", {}))}  # type: ignore[call-overload]
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(data))
    assert main(["pretrain", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "Traceback" not in err and "\n" not in err, err
    return err


@pytest.mark.parametrize(
    ("name", "content", "over", "fragment"), _BAD, ids=[f"{b[0]}-{b[3][:20]}" for b in _BAD]
)
def test_bad_input_is_one_error_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: str | bytes,
    over: dict[str, object],
    fragment: str,
) -> None:
    fasta = tmp_path / name if name == "missing.fa" else _write(tmp_path / name, content)
    err = _cli_error(tmp_path, capsys, fasta, **over)
    assert fragment in err, err
    assert not (tmp_path / "out").exists(), "a refused run must leave no output folder"
    assert not Path(f"{fasta}.fai").exists() or name in {"nonacgt.fa", "short.fa", "good.fa"}


def test_plain_gzip_is_still_decompressed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Plain gzip is read (decompressed to a temporary file), so its refusal must not come from the opener."""
    gz = _write(tmp_path / "g.fa.gz", gzip.compress(b">a\nACGT\n"))
    assert "too short" in _cli_error(tmp_path, capsys, gz)


def test_unfinished_run_is_refused_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A run killed before its end (a log, no metrics.json) is refused with what it is and how to restart."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "trainer_log.jsonl").write_text('{"step": 0}\n')
    fasta = _write(tmp_path / "good.fa", _GOOD)
    err = _cli_error(tmp_path, capsys, fasta)
    assert "holds an unfinished run" in err and "overwrite=true" in err
