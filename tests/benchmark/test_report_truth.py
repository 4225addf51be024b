"""Benchmarks tell the truth: exit code of a sweep with failed cells, inputs checked before the first cell,
bundled published scores, init / subsampling / task-count labels, and end-to-end throughput.

The trainer is replaced by a stub (no training): these tests are about the sweep and its reports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from genomefactory.benchmark.config import BenchmarkConfig
from genomefactory.benchmark.published import bundled_names, read_published, resolve_reference
from genomefactory.benchmark.report import CellRecord, aggregate
from genomefactory.benchmark.run import run_benchmark
from genomefactory.benchmark.tables import efficiency_table
from genomefactory.cli import main
from genomefactory.config import load_config, validate_dict
from genomefactory.errors import DataError, UserFileNotFoundError

ROOT = Path(__file__).resolve().parents[2]


def _task(folder: Path, rows: int = 12) -> Path:
    folder.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        seqs = ["ACGT" * 5 if i % 2 else "GGCC" * 5 for i in range(rows)]
        pd.DataFrame({"sequence": seqs, "label": [i % 2 for i in range(rows)]}).to_csv(
            folder / f"{split}.csv", index=False
        )
    return folder


def _fake_result(mcc: float = 0.5, tokens_per_s: float = 2000.0, hits: int = 0) -> Any:
    return SimpleNamespace(
        test_metrics={"mcc": mcc, "f1": 0.6},
        dev_metrics={"mcc": mcc},
        train_seconds=2.0,
        trainable_params=1234,
        total_params=99999,
        train_tokens_per_s=tokens_per_s,
        feature_cache_hits=hits,
    )


@pytest.fixture
def trainer(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """run_train replaced: records calls; fails for the cell keys listed in state['fail']."""
    import genomefactory.train.finetune as ft

    state: dict[str, Any] = {"calls": [], "fail": set()}

    def fake(cfg: Any) -> Any:
        key = (cfg.model.family, cfg.method.name, cfg.training.seed)
        state["calls"].append(key)
        if key in state["fail"] or "all" in state["fail"]:
            raise RuntimeError("injected failure")
        return _fake_result()

    monkeypatch.setattr(ft, "run_train", fake)
    return state


def _custom_cfg(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    suite = tmp_path / "suite"
    _task(suite / "one")
    return {
        "suites": [{"name": "custom", "path": str(suite)}],
        "models": [{"family": "nucleotide_transformer", "init": "tiny", "label": "nt-tiny"}],
        "methods": ["lora"],
        "seeds": [1, 2],
        "output_dir": str(tmp_path / "sweep"),
        **extra,
    }


def test_all_failed_sweep_exits_1_with_summary(
    tmp_path: Path, trainer: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    trainer["fail"] = {"all"}
    cfg = tmp_path / "b.yaml"
    cfg.write_text(json.dumps(_custom_cfg(tmp_path)))
    code = main(["benchmark", str(cfg)])
    out = capsys.readouterr().out
    assert code == 1
    assert "2 cells, 0 ok, 2 failed" in out and "exit code 1" in out
    report = (tmp_path / "sweep" / "report.md").read_text()
    assert "injected failure" in report and "† incomplete" in report


def test_partly_failed_sweep_exits_1_and_complete_one_exits_0(
    tmp_path: Path, trainer: dict[str, Any]
) -> None:
    trainer["fail"] = {("nucleotide_transformer", "lora", 2)}
    cfg = tmp_path / "b.yaml"
    cfg.write_text(json.dumps(_custom_cfg(tmp_path)))
    assert main(["benchmark", str(cfg)]) == 1
    trainer["fail"] = set()
    assert main(["benchmark", str(cfg)]) == 0  # the failed cell is retried and succeeds
    report = (tmp_path / "sweep" / "report.md").read_text()
    assert "†" not in report  # no incomplete row, so no footnote either


@pytest.mark.parametrize(
    ("extra", "error", "message"),
    [
        (
            {"published_scores": ["reference/genome_factory_table4_benchmark.csv"]},
            UserFileNotFoundError,
            "bundled:",
        ),
        ({"published_scores": ["bundled:nope.csv"]}, UserFileNotFoundError, "no bundled file 'nope.csv'"),
        ({"efficiency_csv": "EFF"}, DataError, "missing column"),
        ({"published_scores": ["BADLAYOUT"]}, DataError, "unknown layout"),
    ],
)
def test_reference_files_checked_before_the_first_cell(
    tmp_path: Path, trainer: dict[str, Any], extra: dict[str, Any], error: type[Exception], message: str
) -> None:
    eff = tmp_path / "eff.csv"
    eff.write_text("model,method,throughput\nx,lora,1\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    extra = json.loads(json.dumps(extra).replace("EFF", str(eff)).replace("BADLAYOUT", str(bad)))
    cfg = validate_dict(BenchmarkConfig, _custom_cfg(tmp_path, **extra))
    with pytest.raises(error, match=re.escape(message)):
        run_benchmark(cfg)
    assert trainer["calls"] == []
    assert not (tmp_path / "sweep").exists()  # nothing made before the inputs were checked


def test_missing_suite_folder_fails_before_anything(tmp_path: Path, trainer: dict[str, Any]) -> None:
    cfg = validate_dict(
        BenchmarkConfig,
        {
            "suites": [{"name": "gue", "path": str(tmp_path / "no_gue")}],
            "models": [{"family": "nucleotide_transformer", "init": "tiny"}],
            "output_dir": str(tmp_path / "sweep"),
        },
    )
    with pytest.raises(UserFileNotFoundError, match=r"drive\.google\.com"):
        run_benchmark(cfg)
    assert trainer["calls"] == [] and not (tmp_path / "sweep").exists()


def test_no_usable_task_stops_before_training(tmp_path: Path, trainer: dict[str, Any]) -> None:
    suite = tmp_path / "broken_suite"
    (suite / "t").mkdir(parents=True)
    (suite / "t" / "test.csv").write_text("sequence,label\nACGT,0\n")  # no train.csv: the task cannot run
    cfg = validate_dict(
        BenchmarkConfig,
        {**_custom_cfg(tmp_path), "suites": [{"name": "custom", "path": str(suite), "dev_fraction": 0}]},
    )
    with pytest.raises(DataError, match="no task of the sweep has usable data"):
        run_benchmark(cfg)
    assert trainer["calls"] == [] and not (tmp_path / "sweep").exists()


def test_report_labels_tiny_subsampled_rows_beside_published(
    shared_data: Path, tmp_path: Path, trainer: dict[str, Any]
) -> None:
    cfg = validate_dict(
        BenchmarkConfig,
        {
            "suites": [
                {"name": "gue", "path": str(shared_data / "gue"), "tasks": ["tf/0"], "max_rows_per_split": 16}
            ],
            "models": [
                {"family": "nucleotide_transformer", "init": "tiny", "label": "nt-tiny"},
                {"family": "dnabert2", "label": "dnabert2-real"},
            ],
            "methods": ["lora", "adapter"],
            "seeds": [1],
            "output_dir": str(tmp_path / "sweep"),
            "published_scores": [
                "bundled:genome_factory_table4_benchmark.csv",
                "bundled:gue_dnabert2_table4.csv",
            ],
        },
    )
    res = run_benchmark(cfg)
    assert res.exit_code == 0
    report = (tmp_path / "sweep" / "report.md").read_text()
    suite_table = report.split("## gue: per task")[0]
    rows = {line.split("|")[1].strip(): line for line in suite_table.splitlines() if line.startswith("| ")}
    tiny = rows["nt-tiny ⚠ not pretrained"]
    assert "tiny (random, not pretrained)" in tiny and "≤ 16 (subsampled)" in tiny and "1/28 tasks" in tiny
    real = rows["dnabert2-real"]  # pretrained: no warning in its label, but the scope is still stated
    assert "| pretrained |" in real and "1/28 tasks" in real
    # published rows below a divider, named by their source, never directly under ours without it
    lines = [line for line in suite_table.splitlines() if line.startswith("| ")]
    divider = next(i for i, line in enumerate(lines) if "published (not run here)" in line)
    assert all("published" not in line for line in lines[:divider])
    assert any(
        "Genome-Factory paper, Table 4" in line and "GenomeOcean-100M" in line for line in lines[divider:]
    )
    assert "⚠ nt-tiny: not pretrained" in report and "≤ 16 rows per split" in report
    assert "1 of 28 tasks" in report  # part of a suite, said above the table
    assert "† incomplete" not in report and "†" not in suite_table
    per_task = report.split("## gue: per task")[1].split("## Efficiency")[0]
    assert "nt-tiny ⚠ not pretrained | tiny (random, not pretrained) | ≤ 16 (subsampled) | LoRA" in per_task
    assert "| DNABERT-2 | pretrained | full | published (DNABERT-2 paper, GUE table) |" in per_task
    efficiency = report.split("## Efficiency")[1]
    assert "(head only, cached features)" in efficiency and "end-to-end" in efficiency
    agg = json.loads((tmp_path / "sweep" / "aggregate.json").read_text())
    assert agg["suite_info"]["gue"] == {"tasks_in_sweep": 1, "tasks_in_suite": 28, "max_rows_per_split": 16}
    assert {r["init"] for r in agg["suites"]} == {"tiny", "pretrained"}
    from genomefactory.benchmark.plot import _points

    points, _, scope = _points(agg, None)
    assert scope == "gue: 1 of 28 tasks, splits subsampled to ≤ 16 rows"
    assert {p["label"] for p in points if p["model"] == "nt-tiny"} == {
        "nt-tiny [tiny, not pretrained] lora",
        "nt-tiny [tiny, not pretrained] adapter",
    }


def _cell(method: str, seed: int, **kw: Any) -> CellRecord:
    return CellRecord(
        suite="custom",
        task="t",
        group="t",
        model="m",
        method=method,
        seed=seed,
        metric="mcc",
        status="ok",
        score=50.0,
        **kw,
    )


def test_end_to_end_throughput_counts_feature_extraction() -> None:
    from genomefactory.benchmark.cells import _measure

    rec = _cell("adapter", 1)
    # 300 K tokens/s in the loop for 2 s (600 K tokens), but the cell took 20 s with feature extraction
    _measure(rec, _fake_result(tokens_per_s=300_000.0), True, 20.0)
    assert rec.throughput_ktok_s == pytest.approx(300.0)
    assert rec.throughput_e2e_ktok_s == pytest.approx(30.0)
    assert rec.feature_cache_hits == 0
    # a later seed read the features from the cache: its fast wall clock is not an end-to-end figure
    cached = _cell("adapter", 2, throughput_ktok_s=310.0, throughput_e2e_ktok_s=250.0, feature_cache_hits=3)
    full = _cell("full", 1, throughput_ktok_s=20.0, throughput_e2e_ktok_s=15.0)
    agg = aggregate([rec, cached, full], SimpleNamespace(published_scores=[]))
    eff = {e["method"]: e for e in agg["efficiency"]}
    assert eff["adapter"]["throughput_e2e_ktok_s"] == pytest.approx(30.0) and eff["adapter"]["e2e_cells"] == 1
    assert eff["adapter"]["throughput_ktok_s"] == pytest.approx(305.0) and eff["adapter"]["head_only"]
    assert eff["full"]["throughput_e2e_ktok_s"] == pytest.approx(15.0) and not eff["full"]["head_only"]
    table = efficiency_table(agg)
    assert "305.00 (head only, cached features) | 30.00 |" in table
    # every adapter cell read its features from a cache: no end-to-end figure, and the table says why
    only_cached = aggregate([cached], SimpleNamespace(published_scores=[]))
    assert only_cached["efficiency"][0]["throughput_e2e_ktok_s"] is None
    assert "— (features read from an earlier run's cache" in efficiency_table(only_cached)


def test_bundled_published_scores_match_the_reference_files(shared_data: Path) -> None:
    ref = shared_data.parent / "reference"
    pairs = {
        "genome_factory_table4_benchmark.csv": ref / "genome_factory_table4_benchmark.csv",
        "genome_factory_table2_efficiency.csv": ref / "genome_factory_table2_efficiency.csv",
        "gue_dnabert2_table4.csv": ref / "published_scores" / "gue_dnabert2_table4.csv",
        "genomic_benchmarks_baselines.csv": ref / "published_scores" / "genomic_benchmarks_baselines.csv",
    }
    assert set(bundled_names()) == set(pairs)
    for name, original in pairs.items():
        bundled = resolve_reference(f"bundled:{name}", "published_scores")
        pd.testing.assert_frame_equal(pd.read_csv(bundled), pd.read_csv(original))
    rows = read_published(resolve_reference("bundled:genome_factory_table4_benchmark.csv", "x"))
    assert {r["source"] for r in rows} == {"Genome-Factory paper, Table 4"}


@pytest.mark.parametrize("name", ["benchmark_gue.yaml", "benchmark_genomic_benchmarks.yaml"])
def test_examples_name_reference_files_that_exist(name: str) -> None:
    cfg = load_config(BenchmarkConfig, ROOT / "examples" / name)
    assert cfg.published_scores
    for i, p in enumerate(cfg.published_scores):
        assert read_published(resolve_reference(p, f"published_scores[{i}]"))
