"""Suites, scoring, published tables and config handling (no training)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import f1_score, matthews_corrcoef

from genomefactory.benchmark.config import BenchmarkConfig, SuiteConfig
from genomefactory.benchmark.report import read_published, score_of
from genomefactory.benchmark.run import _check_models, _train_dict
from genomefactory.benchmark.suites import Suite, get_suite, suite_names
from genomefactory.config import ConfigError, load_config, validate_dict
from genomefactory.records import read_fasta
from genomefactory.sequence import reverse_complement
from genomefactory.train.metrics import classification_metrics

ROOT = Path(__file__).resolve().parents[2]


def test_gue_lists_28_tasks_with_protocol_metrics() -> None:
    tasks = get_suite("gue").list_tasks(SuiteConfig(name="gue"))
    assert len(tasks) == 28 and len({t.name for t in tasks}) == 28
    assert {t.group for t in tasks} == {"EMP", "prom", "tf", "mouse", "virus", "splice"}
    assert [t.name for t in tasks if t.metric == "f1"] == ["virus/covid"]
    picked = get_suite("gue").select(SuiteConfig(name="gue", tasks=["EMP", "tf/0"]))
    assert len(picked) == 11 and picked[-1].name == "tf/0"
    with pytest.raises(ValueError, match="did you mean tf/0"):
        get_suite("gue").select(SuiteConfig(name="gue", tasks=["tf/00"]))


def test_gue_missing_split_and_folder_reported(shared_data: Path, tmp_path: Path) -> None:
    suite = get_suite("gue")
    cfg = SuiteConfig(name="gue", path=str(shared_data / "gue"))
    by_name = {t.name: t for t in suite.list_tasks(cfg)}
    emp = suite.prepare(by_name["EMP/H3"], cfg, tmp_path)
    assert emp.folder is None and "split 'train' is missing" in emp.missing[0]
    covid = suite.prepare(by_name["virus/covid"], cfg, tmp_path)
    assert covid.folder is None and "not found" in covid.missing[0]
    tata = suite.prepare(by_name["prom/prom_core_tata"], cfg, tmp_path)
    assert tata.folder == shared_data / "gue" / "prom" / "prom_core_tata"  # used in place, not copied
    assert tata.rows == {"train": 4904, "dev": 613, "test": 613} and tata.num_labels == 2
    with pytest.raises(ValueError, match=r"drive\.google\.com"):
        suite.prepare(by_name["tf/0"], SuiteConfig(name="gue"), tmp_path)


def test_headline_scores_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 9, 300)  # 9 classes like virus/covid
    logits = rng.normal(size=(300, 9)) + np.eye(9)[labels] * 1.5
    pred = logits.argmax(-1)
    m = classification_metrics(logits, labels)
    assert score_of(m, "mcc") == pytest.approx(100 * matthews_corrcoef(labels, pred))
    assert score_of(m, "f1") == pytest.approx(100 * f1_score(labels, pred, average="macro"))
    assert score_of({"mse": 0.25}, "mse") == 0.25  # errors are not scaled
    with pytest.raises(KeyError, match="not among"):
        score_of(m, "auroc")


def _lambda_fasta(shared_data: Path, tmp_path: Path) -> Path:
    out = tmp_path / "lambda.fa"
    with (
        gzip.open(shared_data / "genomes" / "lambda_NC_001416.1.fasta.gz", "rb") as src,
        open(out, "wb") as dst,
    ):
        shutil.copyfileobj(src, dst)
    return out


def test_genomic_benchmarks_from_intervals_on_real_genome(shared_data: Path, tmp_path: Path) -> None:
    fasta = _lambda_fasta(shared_data, tmp_path)
    name, genome = next(read_fasta(fasta))
    chrom = name.split()[0]
    ds = tmp_path / "intervals" / "lambda_toy"
    meta = {
        "version": 0,
        "classes": {c: {"type": "fa.gz", "url": "http://x/lambda.fa.gz"} for c in ("pos", "neg")},
    }
    (ds).mkdir(parents=True)
    (ds / "metadata.yaml").write_text(yaml.safe_dump(meta))
    rows = {"pos": [(0, 100, "+"), (500, 620, "-")] * 10, "neg": [(48000, 48100, "-"), (7, 57, "+")] * 10}
    for split in ("train", "test"):
        (ds / split).mkdir()
        for cls, ivs in rows.items():
            df = pd.DataFrame(
                [(i, chrom, s, e, st) for i, (s, e, st) in enumerate(ivs)],
                columns=["id", "region", "start", "end", "strand"],
            )
            with gzip.open(ds / split / f"{cls}.csv.gz", "wt") as fh:
                df.to_csv(fh, index=False)
    cfg = SuiteConfig(
        name="genomic_benchmarks",
        path=str(tmp_path / "intervals"),
        genomes={"lambda.fa.gz": str(fasta)},
        dev_fraction=0.25,
    )
    suite = get_suite("genomic_benchmarks")
    task = next(t for t in suite.list_tasks(cfg) if t.name == "lambda_toy")
    prep = suite.prepare(task, cfg, tmp_path / "work")
    assert prep.rows == {"train": 30, "dev": 10, "test": 40} and prep.num_labels == 2
    test = pd.read_csv(prep.folder / "test.csv")  # type: ignore[operator]
    # classes sorted: neg = 0, pos = 1; 0-based half-open slices, minus strand reverse-complemented
    assert test["sequence"][0] == reverse_complement(genome[48000:48100]) and test["label"][0] == 0
    assert test["sequence"][1] == genome[7:57]
    pos = test[test["label"] == 1]["sequence"].tolist()
    assert pos[0] == genome[0:100] and pos[1] == reverse_complement(genome[500:620])


def test_genomic_benchmarks_real_intervals_need_named_genome(shared_data: Path, tmp_path: Path) -> None:
    cfg = SuiteConfig(name="genomic_benchmarks", path=str(shared_data / "genomic_benchmarks" / "intervals"))
    suite = get_suite("genomic_benchmarks")
    task = next(t for t in suite.list_tasks(cfg) if t.name == "human_nontata_promoters")
    with pytest.raises(ValueError, match=r"Homo_sapiens\.GRCh38\.dna\.toplevel\.fa\.gz"):
        suite.prepare(task, cfg, tmp_path)
    gz = shared_data / "genomes" / "lambda_NC_001416.1.fasta.gz"
    bad = cfg.model_copy(update={"genomes": {"Homo_sapiens.GRCh38.dna.toplevel.fa.gz": str(gz)}})
    with pytest.raises(ValueError, match="plain gzip"):
        suite.prepare(task, bad, tmp_path)


def test_genomic_benchmarks_local_export_reports_missing_train(shared_data: Path, tmp_path: Path) -> None:
    cfg = SuiteConfig(name="genomic_benchmarks", path=str(shared_data / "genomic_benchmarks"))
    suite = get_suite("genomic_benchmarks")
    task = next(t for t in suite.list_tasks(cfg) if t.name == "human_nontata_promoters")
    prep = suite.prepare(task, cfg, tmp_path)
    assert prep.folder is None and any("'train' is missing" in m for m in prep.missing)


def test_custom_folder_suite_and_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for task in ("a/one", "b"):
        d = tmp_path / "suite" / task
        d.mkdir(parents=True)
        for split in ("train", "test"):
            pd.DataFrame({"sequence": ["ACGT" * 5] * 10, "label": [0.5 * i for i in range(10)]}).to_csv(
                d / f"{split}.csv", index=False
            )
    cfg = SuiteConfig(name="custom", path=str(tmp_path / "suite"), task_type="regression")
    suite = get_suite("custom")
    tasks = suite.list_tasks(cfg)
    assert [(t.name, t.group, t.metric) for t in tasks] == [("a/one", "a", "mse"), ("b", "b", "mse")]
    prep = suite.prepare(tasks[0], cfg, tmp_path / "work")
    assert prep.rows == {"train": 9, "dev": 1, "test": 10} and prep.num_labels is None

    class Plugin(Suite):
        def list_tasks(self, cfg: SuiteConfig) -> list[Any]:
            return []

        def prepare(self, task: Any, cfg: SuiteConfig, work_dir: Path) -> Any:
            raise AssertionError("not called: the plugin lists no task")

    class EP:
        name = "myplugin"

        def load(self) -> Any:
            return Plugin

    import genomefactory.benchmark.suites as reg
    import genomefactory.plugins as plugins

    # the suites' registry reads entry points through the shared mechanism: a registry that has not read them
    # yet sees the plugin
    monkeypatch.setattr(
        plugins, "_entry_points", lambda group: [EP()] if group == reg.ENTRY_POINT_GROUP else []
    )
    monkeypatch.setattr(reg.SUITES, "_loaded", False)
    try:
        assert "myplugin" in suite_names()
        assert get_suite("myplugin").name == "myplugin"
        with pytest.raises(ValueError, match=r"known: .*gue"):
            get_suite("nope")
    finally:
        reg.SUITES.unregister("myplugin")


def test_published_tables_parse(shared_data: Path) -> None:
    ref = shared_data.parent / "reference"
    t4 = read_published(ref / "genome_factory_table4_benchmark.csv")
    hit = [
        r for r in t4 if r["model"] == "GenomeOcean-100M" and r["suite"] == "GUE" and r["method"] == "full"
    ]
    assert hit[0]["score"] == 65.52 and hit[0]["std"] == 0.57
    assert not [r for r in t4 if r["model"] == "EVO-1-131k" and r["method"] == "full"]  # "—" in the paper
    gue = read_published(ref / "published_scores" / "gue_dnabert2_table4.csv")
    assert len({r["task"] for r in gue}) == 28
    gb = read_published(ref / "published_scores" / "genomic_benchmarks_baselines.csv")
    assert not [r for r in gb if r["model"].endswith("_loss")]


def test_overrides_and_bad_keys_fail_before_training() -> None:
    cfg = validate_dict(
        BenchmarkConfig,
        {
            "models": [
                {
                    "family": "nucleotide_transformer",
                    "init": "tiny",
                    "label": "nt",
                    "overrides": {
                        "training": {"learning_rate": 1e-3, "seed": 999},
                        "method": {"name": "full"},
                    },
                }
            ],
            "training": {"learning_rate": 3e-5, "epochs": 2},
        },
    )
    d = _train_dict(cfg, cfg.models[0], "lora", 14)
    assert d["training"]["learning_rate"] == 1e-3 and d["training"]["epochs"] == 2
    assert d["training"]["seed"] == 14 and d["method"]["name"] == "lora"  # the sweep's axes win
    bad = cfg.model_copy(
        update={"models": [cfg.models[0].model_copy(update={"overrides": {"training": {"lr": 1}}})]}
    )
    with pytest.raises(ConfigError, match=r"(?s)models\[0\].*training\.lr"):
        _check_models(bad)


@pytest.mark.parametrize(
    "name", ["benchmark_gue.yaml", "benchmark_genomic_benchmarks.yaml", "benchmark_custom.yaml"]
)
def test_examples_load(name: str) -> None:
    cfg = load_config(BenchmarkConfig, ROOT / "examples" / name)
    assert cfg.suites and cfg.models


def test_custom_suite_follows_linked_task_folders(shared_data: Path, tmp_path: Path) -> None:
    from genomefactory.benchmark.suites.custom import FolderSuite

    root = tmp_path / "suite"
    root.mkdir()
    (root / "tata").symlink_to(shared_data / "gue/prom/prom_core_tata", target_is_directory=True)
    (root / "loop").symlink_to(root, target_is_directory=True)  # a link loop must not hang or duplicate
    tasks = FolderSuite().list_tasks(SuiteConfig(name="custom", path=str(root)))
    assert [t.name for t in tasks] == ["tata"]


def test_genomic_benchmarks_one_naming_convention_per_reference(shared_data: Path, tmp_path: Path) -> None:
    """drosophila_enhancers_stark: `negative` has no extra_processing but chr-prefixed regions, as `positive`."""
    real = shared_data / "genomic_benchmarks" / "intervals" / "drosophila_enhancers_stark"
    meta = yaml.safe_load((real / "metadata.yaml").read_text())
    ref = str(meta["classes"]["positive"]["url"]).rsplit("/", 1)[-1]
    assert "extra_processing" not in meta["classes"]["negative"]  # the case this test is about
    _, genome = next(read_fasta(_lambda_fasta(shared_data, tmp_path)))
    fasta = tmp_path / "dm.fa"
    fasta.write_text(">3L Ensembl-style name, no chr\n" + genome + "\n")
    ds = tmp_path / "intervals" / "drosophila_enhancers_stark"
    ds.mkdir(parents=True)
    shutil.copy(real / "metadata.yaml", ds / "metadata.yaml")
    for split in ("train", "test"):
        (ds / split).mkdir()
        for cls, (s, e, st) in {"negative": (100, 160, "-"), "positive": (2000, 2050, "+")}.items():
            df = pd.DataFrame(
                [(i, "chr3L", s, e, st) for i in range(4)], columns=["id", "region", "start", "end", "strand"]
            )
            with gzip.open(ds / split / f"{cls}.csv.gz", "wt") as fh:
                df.to_csv(fh, index=False)
    cfg = SuiteConfig(name="genomic_benchmarks", path=str(tmp_path / "intervals"), genomes={ref: str(fasta)})
    suite = get_suite("genomic_benchmarks")
    task = next(t for t in suite.list_tasks(cfg) if t.name == "drosophila_enhancers_stark")
    prep = suite.prepare(task, cfg, tmp_path / "work")
    test = pd.read_csv(prep.folder / "test.csv")  # type: ignore[operator]
    assert test["sequence"][0] == reverse_complement(genome[100:160]) and test["label"][0] == 0
    assert test["sequence"][4] == genome[2000:2050] and test["label"][4] == 1
    meta["classes"]["negative"]["extra_processing"] = "ENSEMBL_FLY_GENOME"  # a typo must not be ignored
    (ds / "metadata.yaml").write_text(yaml.safe_dump(meta))
    with pytest.raises(ValueError, match="unknown extra_processing 'ENSEMBL_FLY_GENOME'"):
        suite.prepare(task, cfg, tmp_path / "work")
