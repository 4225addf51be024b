"""Forms from config classes, path confinement, tabs from the COMMANDS table, the run queue (no browser)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from genomefactory.cli import COMMANDS, Command, available_commands
from genomefactory.config import validate_dict
from genomefactory.infer.config import InferenceConfig
from genomefactory.train.config import TrainConfig
from genomefactory.webui.forms import PathError, build_data, check_paths, form_fields, to_widget_value
from genomefactory.webui.runner import RunManager


def test_train_form_generated_from_config() -> None:
    specs = {s.key: s for s in form_fields(TrainConfig)}
    assert specs["data.path"].required and specs["data.path"].kind == "text"
    from genomefactory.models.registry import family_names, variant_names
    from genomefactory.train.methods.registry import method_names
    from genomefactory.webui.forms import registry_choices

    assert specs["method.name"].choices == method_names() and specs["method.name"].default == "lora"
    # family and variant: drop-downs of the registry, the variants following the family
    assert registry_choices(specs["model.family"]) == family_names()
    for family in family_names():
        assert registry_choices(specs["model.variant"], family) == variant_names(family) != []
    assert registry_choices(specs["model.variant"], "(default)") == []
    assert specs["training.learning_rate"].optional and specs["training.learning_rate"].kind == "float"
    assert (
        specs["training.epochs"].help
        == TrainConfig.model_fields["training"]
        .annotation.model_fields[  # type: ignore[union-attr]
            "epochs"
        ]
        .description
    )
    # fields appear according to the chosen method / adapter kind / init
    assert specs["method.lora.r"].show_if == [("method.name", "lora")]
    assert specs["method.adapter.cnn_channels"].show_if == [
        ("method.name", "adapter"),
        ("method.adapter.kind", "cnn"),
    ]
    assert specs["model.tiny_overrides"].show_if == [("model.init", "tiny")]
    assert specs["training.epochs"].show_if == []
    inf = {s.key: s for s in form_fields(InferenceConfig)}
    assert inf["generate.temperature"].show_if == [("mode", "generate")]


def test_build_data_keeps_only_changes_and_validates() -> None:
    specs = form_fields(TrainConfig)
    values = [to_widget_value(s) for s in specs]
    keys = [s.key for s in specs]
    values[keys.index("data.path")] = "tasks/tata"
    values[keys.index("model.init")] = "tiny"
    values[keys.index("training.max_steps")] = "5"
    values[keys.index("method.adapter.hidden_sizes")] = "[64, 32]"
    data = build_data(specs, values)
    assert data == {
        "model": {"init": "tiny"},
        "data": {"path": "tasks/tata"},
        "method": {"adapter": {"hidden_sizes": [64, 32]}},
        "training": {"max_steps": 5},
    }
    cfg = validate_dict(TrainConfig, yaml.safe_load(yaml.safe_dump(data)))
    assert cfg.training.max_steps == 5 and cfg.training.epochs == 3
    values[keys.index("training.max_steps")] = "five"
    with pytest.raises(ValueError, match=r"training\.max_steps"):
        build_data(specs, values)


@pytest.mark.parametrize("bad", ["/etc", "../outside", "runs/../../x", "~/data"])
def test_paths_outside_workspace_refused(tmp_path: Path, bad: str) -> None:
    ws = tmp_path / "ws"
    ok = validate_dict(
        TrainConfig,
        {
            "data": {"path": "tasks/a"},
            "output_dir": str(ws / "runs" / "x"),
            "model": {"path": "InstaDeepAI/some-model"},
        },
    )
    check_paths(ok, ws)
    with pytest.raises(PathError, match="outside the workspace"):
        check_paths(ok.model_copy(update={"data": ok.data.model_copy(update={"path": bad})}), ws)
    with pytest.raises(PathError, match=r"method\.adapter\.cache_dir"):
        adapter = ok.method.adapter.model_copy(update={"cache_dir": bad})
        check_paths(ok.model_copy(update={"method": ok.method.model_copy(update={"adapter": adapter})}), ws)


def test_nested_list_paths_checked(tmp_path: Path) -> None:
    from genomefactory.benchmark.config import BenchmarkConfig

    cfg = validate_dict(
        BenchmarkConfig,
        {
            "suites": [
                {"name": "gue", "path": "gue"},
                {"name": "genomic_benchmarks", "path": "gb", "genomes": {"x.fa.gz": "/data/x.fa"}},
            ]
        },
    )
    with pytest.raises(PathError, match=r"suites\[1\]\.genomes"):
        check_paths(cfg, tmp_path)


def test_tabs_follow_commands_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from genomefactory.webui.app import _tabs

    cmds = available_commands()
    assert {"train", "benchmark"} <= set(cmds)
    monkeypatch.setitem(COMMANDS, "sae_train", COMMANDS["train"])
    # a new command lands in the tab of its config's package, or "Other"
    monkeypatch.setitem(COMMANDS, "brand_new", Command(COMMANDS["train"].config, COMMANDS["train"].run, "x"))
    monkeypatch.setitem(COMMANDS, "odd", Command(COMMANDS["webui"].config, COMMANDS["train"].run, "x"))
    tabs = dict(_tabs(available_commands()))
    assert "sae_train" in tabs["Interpret"] and "odd" in tabs["Other"] and "webui" not in str(tabs)
    assert (
        tabs["Train"][:1] == ["train"] and "brand_new" in tabs["Train"] and "benchmark" in tabs["Benchmark"]
    )


def test_queue_runs_in_order_and_stop(tmp_path: Path) -> None:
    fake = tmp_path / "fakepy"  # stands in for `python -m genomefactory CMD config.yaml`
    fake.write_text("#!/bin/sh\necho start $3\nsleep $(cat $4 | head -1)\necho done $3\n")
    fake.chmod(0o755)
    mgr = RunManager(tmp_path, max_parallel=1, python=str(fake))
    a = mgr.submit("first", "0.2\n", None)
    b = mgr.submit("second", "30\n", None)
    c = mgr.submit("third", "0\n", None)
    assert mgr.stop(c.id).endswith("removed from the queue")
    deadline = time.time() + 20
    while b.status != "running" and time.time() < deadline:
        time.sleep(0.05)
    assert a.status == "finished" and a.lines == ["start first", "done first"]
    mgr.stop(b.id)
    while not b.done and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert b.status == "stopped" and "done second" not in b.lines and c.lines == []
    assert (a.run_dir / "config.yaml").read_text() == "0.2\n" and (a.run_dir / "run.log").is_file()


def test_cli_line_is_the_same_config_as_the_yaml() -> None:
    import shlex

    from genomefactory.config import parse_overrides
    from genomefactory.webui.forms import cli_line

    data = {
        "model": {"init": "tiny"},
        "data": {"path": "my data/tata"},
        "training": {"max_steps": 5},
        "suites": [{"name": "custom", "path": "tasks"}],
        "label": "yes",
        "num": "3",
        "gone": None,
    }
    line = cli_line("benchmark", data)
    assert line.startswith(
        "genomefactory-cli benchmark model.init=tiny 'data.path=my data/tata' training.max_steps=5"
    )
    assert parse_overrides(shlex.split(line)[2:]) == data  # "yes" / "3" stay strings, None stays None


@pytest.mark.parametrize("command", ["train", "inference", "benchmark"])
def test_panel_values_reach_their_own_fields(tmp_path: Path, command: str) -> None:
    """Gradio passes values in widget order; BenchmarkConfig's top-level fields are split by nested sections."""
    gr = pytest.importorskip("gradio")
    from genomefactory.webui.app import CommandPanel

    with gr.Blocks():
        panel = CommandPanel(gr, command, COMMANDS[command], RunManager(tmp_path, 1), tmp_path)
    assert [panel.by_key[s.key][0] for s in panel.specs] == panel.inputs
    values = [to_widget_value(s) for s in panel.specs]
    assert panel.preview(*values)[0].strip() in ("{}", "")  # defaults only: nothing differs


def test_stopping_run_is_stopped_only_once_its_process_is_gone(tmp_path: Path) -> None:
    fake = tmp_path / "fakepy"  # ignores SIGTERM for a moment, like a process saving a checkpoint
    fake.write_text("#!/bin/sh\ntrap 'sleep 1; exit 143' TERM\necho up\nwhile true; do sleep 0.1; done\n")
    fake.chmod(0o755)
    mgr = RunManager(tmp_path, max_parallel=1, python=str(fake))
    run = mgr.submit("x", "", None)
    deadline = time.time() + 20
    while not run.lines and time.time() < deadline:
        time.sleep(0.05)
    assert mgr.stop(run.id).endswith("stopping")
    assert run.status == "stopping" and not run.done and run.proc is not None and run.proc.poll() is None
    while not run.done and time.time() < deadline:
        time.sleep(0.05)
    assert run.status == "stopped" and run.returncode == 143 and run.proc.poll() is not None


def test_shutdown_stops_running_and_queued_runs(tmp_path: Path) -> None:
    fake = tmp_path / "fakepy"  # a long job
    fake.write_text("#!/bin/sh\necho up\nwhile true; do sleep 0.1; done\n")
    fake.chmod(0o755)
    mgr = RunManager(tmp_path, max_parallel=1, python=str(fake))
    running, queued = mgr.submit("x", "", None), mgr.submit("y", "", None)
    deadline = time.time() + 20
    while not running.lines and time.time() < deadline:
        time.sleep(0.05)
    assert mgr.shutdown(grace=5) == 2
    assert running.proc is not None and running.proc.poll() is not None  # the process is gone, not orphaned
    assert queued.status == "stopped" and queued.proc is None


def test_every_file_field_of_every_command_is_confined(tmp_path: Path) -> None:
    """A field whose help speaks of a file or folder is declared path-valued on its config class (sae inputs
    were not), so the confinement check sees it; and overrides are seen."""
    import re

    from genomefactory.benchmark.config import BenchmarkConfig
    from genomefactory.cli import _load
    from genomefactory.interpret.config import SAERegressionConfig
    from genomefactory.webui.forms import declared_path_keys

    for name, cmd in available_commands().items():
        if name == "webui":  # the server's own settings: not a form
            continue
        cls = _load(cmd.config)
        declared = declared_path_keys(cls)
        for spec in form_fields(cls):
            if spec.kind == "text" and re.search(r"\b(file|folder|directory)\b", spec.help, re.I):
                assert spec.key in declared, (
                    f"{name}: {spec.key} speaks of files but is not an InPath/OutPath"
                )
    ws = tmp_path / "ws"
    sae = validate_dict(
        SAERegressionConfig, {"embeddings": "emb.parquet", "sae_checkpoint": "sae", "output": "o"}
    )
    check_paths(sae, ws)
    for key in ("embeddings", "sae_checkpoint"):
        with pytest.raises(PathError, match=key):
            check_paths(sae.model_copy(update={key: "/etc/secret"}), ws)
    bench = validate_dict(
        BenchmarkConfig,
        {
            "models": [
                {
                    "family": "nucleotide_transformer",
                    "overrides": {
                        "method": {"adapter": {"cache_dir": "/tmp/elsewhere"}},
                        "training": {"learning_rate": 1e-3},
                    },
                }
            ]
        },
    )
    with pytest.raises(PathError, match=r"models\[0\]\.overrides\.method\.adapter\.cache_dir"):
        check_paths(bench, ws)
