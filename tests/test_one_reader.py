"""One reader: the same records as FASTA, FASTA.gz, .fas, .fa.gz, CSV, TSV and .tab give the same ids and
sequences to train (a task folder), predict, embed and the custom benchmark suite, and each of them reads the
file through :mod:`genomefactory.records` (a spy on the reader's one opener sees the file)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from genomefactory import records
from genomefactory.benchmark.config import SuiteConfig
from genomefactory.benchmark.suites import get_suite
from genomefactory.config import load_config
from genomefactory.infer.config import InferenceConfig
from genomefactory.infer.run import run_inference
from genomefactory.infer.store import read_embeddings
from genomefactory.train.config import TrainConfig
from genomefactory.train.data import load_task
from genomefactory.train.finetune import run_train

FORMATS = ["fasta", "fasta.gz", "fas", "fa.gz", "csv", "tsv", "tab", "csv.gz"]
ROWS = {"train": 24, "dev": 8, "test": 8}
Rec = tuple[str, str, str]  # id, sequence as written (mixed case), label


@pytest.fixture(scope="module")
def base(shared_data: Path) -> dict[str, list[Rec]]:
    """Real GUE rows; every third sequence written in lower case (the reader upper-cases)."""
    src = shared_data / "gue/prom/prom_core_tata"
    out = {}
    for split, n in ROWS.items():
        df = pd.read_csv(src / f"{split}.csv").head(n)
        out[split] = [
            (f"{split}_{i}", s.lower() if i % 3 == 0 else s, str(lab))
            for i, (s, lab) in enumerate(zip(df["sequence"], df["label"], strict=True))
        ]
    return out


def write(path: Path, recs: list[Rec], with_ids: bool = True) -> Path:
    """Write records in the format of the file name; a FASTA split gets its labels in <split>.labels.csv."""
    stem = records.record_stem(path)
    if records.is_fasta(path):
        text = "".join(f">{rid} prom_core_tata row\n{seq[:40]}\n{seq[40:]}\n" for rid, seq, _ in recs)
        labels = pd.DataFrame({"id": [r for r, _, _ in recs], "label": [lab for *_, lab in recs]})
        labels.to_csv(path.with_name(f"{stem}.labels.csv"), index=False)
    else:
        sep = "," if ".csv" in path.name else "\t"
        frame = pd.DataFrame(
            {"id": [r[0] for r in recs], "sequence": [r[1] for r in recs], "label": [r[2] for r in recs]}
        )
        text = frame.to_csv(sep=sep, index=False, columns=None if with_ids else ["sequence", "label"])
    path.write_bytes(gzip.compress(text.encode()) if path.name.endswith(".gz") else text.encode())
    return path


def task_folder(folder: Path, base: dict[str, list[Rec]], fmt: str) -> Path:
    folder.mkdir(parents=True)
    for split, recs in base.items():
        write(folder / f"{split}.{fmt}", recs)
    return folder


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """Paths opened by the record reader (every FASTA and table it reads goes through open_input_text)."""
    seen: list[Path] = []
    real = records.open_input_text

    def opener(path: str | Path, what: str | None = None):  # type: ignore[no-untyped-def]
        seen.append(Path(path))
        return real(path, what)

    monkeypatch.setattr(records, "open_input_text", opener)
    yield seen


def expected(recs: list[Rec]) -> tuple[list[str], list[str]]:
    return [r for r, _, _ in recs], [s.upper() for _, s, _ in recs]


@pytest.fixture(scope="module")
def run_dir(base: dict[str, list[Rec]], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """A tiny model trained from a FASTA.gz task folder (training reads its splits through records)."""
    tmp = tmp_path_factory.mktemp("run")
    data = task_folder(tmp / "data", base, "fa.gz")
    cfg = load_config(
        TrainConfig,
        None,
        {
            "data": {"path": str(data)},
            "output_dir": str(tmp / "run"),
            "model": {"family": "nucleotide_transformer", "init": "tiny"},
            "method": {"name": "full"},
            "training": {"epochs": 1, "batch_size": 8, "eval_batch_size": 8, "logging_steps": 1, "seed": 0},
        },
    )
    with pytest.MonkeyPatch.context() as mp:
        seen: list[Path] = []
        real = records.open_input_text
        mp.setattr(records, "open_input_text", lambda p, what=None: (seen.append(Path(p)), real(p, what))[1])
        run_train(cfg)
    return tmp / "run", seen


def test_train_reads_every_format(
    base: dict[str, list[Rec]], tmp_path: Path, spy: list[Path], run_dir: tuple[Path, list[Path]]
) -> None:
    _, trained_from = run_dir
    assert {p.name for p in trained_from} >= {"train.fa.gz", "dev.fa.gz", "test.fa.gz"}
    for fmt in FORMATS:
        folder = task_folder(tmp_path / fmt.replace(".", "_"), base, fmt)
        splits, n = load_task(folder, None, "label", "classification", None)
        assert n == 2
        for split, recs in base.items():
            assert splits[split].sequences == expected(recs)[1], fmt
            assert splits[split].labels.tolist() == [int(lab) for *_, lab in recs], fmt
            assert folder / f"{split}.{fmt}" in spy


def _predict(run: Path, inp: Path, out: Path) -> pd.DataFrame:
    cfg = {"mode": "predict", "model": {"path": str(run)}, "predict": {"input": str(inp), "output": str(out)}}
    run_inference(load_config(InferenceConfig, None, cfg))
    return pd.read_csv(out, dtype={"id": str})


def _embed(inp: Path, out: Path) -> pd.DataFrame:
    cfg = {
        "mode": "embed",
        "model": {"family": "hf_auto", "init": "tiny"},
        "embed": {"input": str(inp), "output": str(out), "progress": False, "chunk_size": 3},
    }
    run_inference(load_config(InferenceConfig, None, cfg))
    return read_embeddings(out).frame


def test_predict_and_embed_read_every_format_alike(
    base: dict[str, list[Rec]], tmp_path: Path, spy: list[Path], run_dir: tuple[Path, list[Path]]
) -> None:
    recs = base["test"]
    ids, seqs = expected(recs)
    cases = [(fmt, True) for fmt in FORMATS] + [("csv", False), ("tsv", False)]
    for fmt, with_ids in cases:
        (tmp_path / f"in_{fmt}_{with_ids}").mkdir()
        inp = write(tmp_path / f"in_{fmt}_{with_ids}" / f"test.{fmt}", recs, with_ids)
        want = ids if with_ids else [f"row{i}" for i in range(1, len(recs) + 1)]  # the id rule of a table
        pred = _predict(run_dir[0], inp, tmp_path / f"pred_{fmt}_{with_ids}.csv")
        emb = _embed(inp, tmp_path / f"emb_{fmt}_{with_ids}.parquet")
        assert pred["id"].tolist() == want == emb["id"].tolist(), fmt
        assert pred["sequence"].tolist() == seqs == emb["sequence"].tolist(), fmt
        assert spy.count(inp) >= 2, fmt  # predict and embed both opened it through records
        if not records.is_fasta(inp):  # a table's label column is carried over as metadata by both
            assert (
                pred["label"].astype(str).tolist()
                == [lab for *_, lab in recs]
                == emb["label"].astype(str).tolist()
            )


def test_custom_suite_reads_every_format(base: dict[str, list[Rec]], tmp_path: Path, spy: list[Path]) -> None:
    root = tmp_path / "suite"
    for fmt in FORMATS:
        task_folder(root / fmt.replace(".", "_"), base, fmt)
    suite = get_suite("custom")
    cfg = SuiteConfig(name="custom", path=str(root))
    tasks = suite.list_tasks(cfg)
    assert sorted(t.name for t in tasks) == sorted(f.replace(".", "_") for f in FORMATS)
    train_bp = sum(len(s) for _, s, _ in base["train"]) / len(base["train"])
    for task, fmt in zip(
        sorted(tasks, key=lambda t: t.name), sorted(FORMATS, key=lambda f: f.replace(".", "_")), strict=True
    ):
        prepared = suite.prepare(task, cfg, tmp_path / "work")
        assert prepared.missing == [] and prepared.rows == ROWS and prepared.num_labels == 2
        assert prepared.mean_train_bp == pytest.approx(train_bp)
        assert prepared.folder is not None
        splits, _ = load_task(prepared.folder, None, "label", "classification", None)
        for split, recs in base.items():
            assert splits[split].sequences == expected(recs)[1], fmt
            assert root / task.name / f"{split}.{fmt}" in spy, fmt
