"""The error contract: every UserError through the CLI is one ``error:`` line and exit code 2; anything else is a
bug and keeps its traceback; the printer never interprets markup in messages."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import genomefactory
from genomefactory import cli
from genomefactory.commands import COMMANDS, Command
from genomefactory.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def _all_user_errors() -> list[type[UserError]]:
    """Every UserError subclass defined anywhere in the package (importing every module finds them)."""
    for mod in pkgutil.walk_packages(genomefactory.__path__, "genomefactory."):
        if mod.name.startswith(("genomefactory.webui.app", "genomefactory.__main__")):
            continue  # gradio; the module entry point runs the CLI
        importlib.import_module(mod.name)
    seen: list[type[UserError]] = []
    todo: list[type[UserError]] = [UserError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(c for c in cls.__subclasses__() if c not in seen)
    return seen


def _raising(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    def boom(cfg: object) -> None:
        raise exc

    monkeypatch.setattr(sys.modules[__name__], "_boom", boom, raising=False)
    monkeypatch.setitem(COMMANDS, "boom", Command(COMMANDS["train"].config, f"{__name__}:_boom", "test"))


def test_every_user_error_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    classes = _all_user_errors()
    names = {c.__name__ for c in classes}
    assert {"ConfigError", "DataError", "SequenceError", "UnknownNameError"} <= names
    for cls in classes:
        try:
            exc = cls("bad thing in runs/[/x]/file.csv row 3\n  second line: how to fix it")
        except TypeError:  # a subclass with its own constructor signature
            continue
        _raising(monkeypatch, exc)
        code = cli.main(["boom", "data.path=x"])
        err = capsys.readouterr().err
        assert code == 2, cls
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (cls, err)
        assert "runs/[/x]/file.csv row 3" in lines[0] and "how to fix it" in lines[0]


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    _raising(monkeypatch, ValueError("an internal invariant broke"))
    with pytest.raises(ValueError, match="invariant"):
        cli.main(["boom", "data.path=x"])


def test_file_system_refusal_of_a_named_path_is_a_user_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _raising(monkeypatch, PermissionError(13, "Permission denied", "/root/out/[x]"))
    assert cli.main(["boom", "data.path=x"]) == 2
    assert capsys.readouterr().err.strip() == "error: Permission denied: /root/out/[x]"


def test_config_errors_and_markup_in_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weird = tmp_path / "[/x]" / "config.yaml"
    weird.parent.mkdir(parents=True)
    weird.write_text("training:\n  epoch: 3\n")
    assert cli.main(["train", str(weird)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "[/x]" in err[0] and "unknown key 'training.epoch'" in err[0]
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\xff\xfe\x00")
    assert cli.main(["train", str(binary)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(binary) in err[0]


def test_help_keeps_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train", "--help"]) == 0
    assert "genomefactory-cli train [config.yaml] [key=value ...]" in capsys.readouterr().out
    assert cli.main(["help", "--help"]) == 0
    assert "COMMAND [config.yaml]" in capsys.readouterr().out


def test_module_entry_point_exit_code(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "genomefactory", "train", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: config file not found: {tmp_path / 'missing.yaml'}"]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model.family=dnabrt2", "Did you mean 'dnabert2'"),
        ("model.variant=117N", "has no variant '117N'"),
    ],
)
def test_unknown_family_or_variant_refused_at_config_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, expected: str
) -> None:
    out = tmp_path / "runs" / "never"
    data = tmp_path / "data"
    data.mkdir()
    code = cli.main(["train", f"data.path={data}", f"output_dir={out}", "model.family=dnabert2", override])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and expected in err[0], err
    assert "model." in err[0]  # the key is named
    assert not (tmp_path / "runs").exists()  # refused before any folder was made


def test_unknown_family_in_benchmark_is_refused_before_any_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "bench.yaml"
    cfg.write_text(
        f"output_dir: {tmp_path / 'sweep'}\nsuites: [{{name: custom, path: {tmp_path}}}]\n"
        "models: [{family: hyenadnaa, init: tiny}]\n"
    )
    assert cli.main(["benchmark", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Did you mean 'hyenadna'" in err[0], err
    assert not (tmp_path / "sweep").exists()
