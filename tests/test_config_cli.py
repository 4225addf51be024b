"""Strict configs, CLI table, examples kept in sync with the commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from genomefactory.cli import COMMANDS, _load, available_commands, main
from genomefactory.config import ConfigError, load_config, parse_overrides
from genomefactory.train.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_unknown_key_names_key_and_closest(tmp_path: Path) -> None:
    p = write(tmp_path, "data: {path: x}\ntraining:\n  learning_rat: 0.1\n")
    with pytest.raises(ConfigError) as e:
        load_config(TrainConfig, p)
    msg = str(e.value)
    assert "training.learning_rat" in msg and "did you mean 'learning_rate'" in msg and str(p) in msg


def test_wrong_type_names_key_value_type(tmp_path: Path) -> None:
    p = write(tmp_path, "data: {path: x}\ntraining: {batch_size: many}\n")
    with pytest.raises(ConfigError) as e:
        load_config(TrainConfig, p)
    assert "training.batch_size" in str(e.value) and "'many'" in str(e.value) and "integer" in str(e.value)


def test_missing_required_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing required key 'data'"):
        load_config(TrainConfig, write(tmp_path, "output_dir: x\n"))


def test_bad_choice_lists_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"method.name.*'full', 'lora', 'adapter' or 'qlora'"):
        load_config(TrainConfig, write(tmp_path, "data: {path: x}\nmethod: {name: prefix}\n"))


def test_dotted_overrides(tmp_path: Path) -> None:
    cfg = load_config(
        TrainConfig,
        write(tmp_path, "data: {path: x}\n"),
        ["training.epochs=5", "method.lora.target_modules=[a, b]", "model.family=dnabert2"],
    )
    assert (
        cfg.training.epochs == 5
        and cfg.method.lora.target_modules == ["a", "b"]
        and cfg.model.family == "dnabert2"
    )
    assert parse_overrides(["a.b.c=1"]) == {"a": {"b": {"c": 1}}}
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["oops"])
    with pytest.raises(ConfigError, match=r"unknown key 'training.epoch'"):
        load_config(TrainConfig, write(tmp_path, "data: {path: x}\n"), ["training.epoch=5"])


def test_every_example_loads() -> None:
    examples = sorted((ROOT / "examples").glob("*.yaml"))
    assert len(examples) >= 5
    commands = available_commands()
    prefixes = {
        "train": "train",
        "inference": "inference",
        "download": "download",
        "process": "process",
        "benchmark": "benchmark",
        "sae_train": "sae_train",
        "sae_regression": "sae_regression",
        "variants": "variants",
        "attribute": "attribute",
        "per_base_data": "per_base_data",
        "pretrain": "pretrain",
        "plan": "plan",
        "motifs": "motifs",
    }
    for ex in examples:
        name = next((c for p, c in prefixes.items() if ex.stem.startswith(p)), None)
        assert name is not None, f"{ex.name}: no command for this example name"
        if name not in commands:
            pytest.fail(f"{ex.name} belongs to command {name!r} which is not in the CLI table")
        load_config(_load(commands[name].config), ex)


def test_help_lists_every_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    for key in (
        "training.learning_rate",
        "method.lora.target_modules",
        "data.path",
        "model.trust_remote_code",
    ):
        assert key in out
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "inference" in out


def test_models_lists_families(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "nucleotide_transformer" in out and "genomeocean" in out and "InstaDeepAI" in out


def test_unknown_command_and_bad_config_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trian"]) == 2
    assert "did you mean 'train'" in capsys.readouterr().err.lower()
    p = write(tmp_path, "data: {path: x}\nbogus: 1\n")
    assert main(["train", str(p)]) == 2
    assert "unknown key 'bogus'" in capsys.readouterr().err


def test_table_entries_resolve() -> None:
    for name, cmd in COMMANDS.items():
        assert callable(_load(cmd.run)), name


def test_python_dash_m() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "genomefactory", "--help"], capture_output=True, text=True, check=True
    )
    assert "genomefactory-cli" in out.stdout


def test_bad_data_errors(shared_data: Path, tmp_path: Path) -> None:
    """Each bad-input case gets an error naming the file, row and value."""
    from genomefactory.train.data import DataError, load_task

    src = shared_data / "gue/prom/prom_core_tata"
    lines = {s: (src / f"{s}.csv").read_text().splitlines()[:6] for s in ("train", "dev", "test")}

    def make(name: str, edit: dict[str, list[str]] | None = None, drop: str | None = None) -> Path:
        d = tmp_path / name
        d.mkdir()
        for s, ls in {**lines, **(edit or {})}.items():
            if s != drop:
                (d / f"{s}.csv").write_text("\n".join(ls) + "\n")
        return d

    seq = lines["train"][1].split(",")[0]
    cases = {
        "missing": (make("missing", drop="dev"), "missing data file .*dev.csv"),
        "empty": (make("empty", {"test": ["sequence,label"]}), "test.csv has no rows"),
        "nocol": (make("nocol", {"train": ["dna,label", f"{seq},1"]}), "no sequence column"),
        "nolabel": (make("nolabel", {"train": ["sequence,y", f"{seq},1"]}), "no label column 'label'"),
        "float": (make("float", {"train": ["sequence,label", f"{seq},0.5"]}), "train.csv row 1: label '0.5'"),
        "nan": (make("nan", {"dev": ["sequence,label", f"{seq},nan"]}), "dev.csv row 1: label 'nan' is NaN"),
        "range": (
            make("range", {"test": ["sequence,label", f"{seq},7"]}),
            "test.csv row 1: label 7 is out of range",
        ),
        "char": (
            make("char", {"train": ["sequence,label", seq, f"{seq[:5]}X{seq[6:]},1"]}),
            r"train.csv row 2: invalid character 'X' at position 5",
        ),
    }
    for folder, pattern in cases.values():
        with pytest.raises(DataError, match=pattern):
            load_task(folder, None, "label", "classification", None)
    # IUPAC codes and lower case are legal; 'seq' column accepted
    ok = make("ok", {"train": ["seq,label", f"{seq[:10].lower()}RYN{seq[13:]},1", f"{seq},0"]})
    splits, n = load_task(ok, None, "label", "classification", None)
    assert n == 2 and splits["train"].sequences[0].startswith(seq[:10].upper())


def test_readme_documents_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme.index("make demo") < readme.index("## Usage") and "make test" in readme.split("## Usage")[0]
    for name in COMMANDS:
        assert f"`{name}`" in readme, f"README does not document command {name!r}"


def test_fasta_with_label_table(shared_data: Path, tmp_path: Path) -> None:
    import pandas as pd

    from genomefactory.train.data import DataError, load_task

    src = shared_data / "gue/prom/prom_core_tata"
    for split in ("train", "dev", "test"):
        df = pd.read_csv(src / f"{split}.csv").head(5)
        if split == "train":
            (tmp_path / "train.fasta").write_text(
                "".join(f">r{i} x\n{s}\n" for i, s in enumerate(df["sequence"]))
            )
            pd.DataFrame({"id": [f"r{i}" for i in range(5)][::-1], "label": df["label"][::-1]}).to_csv(
                tmp_path / "train.labels.tsv", sep="\t", index=False
            )
        else:
            df.to_csv(tmp_path / f"{split}.csv", index=False)
    splits, _ = load_task(tmp_path, None, "label", "classification", None)
    assert splits["train"].sequences == pd.read_csv(src / "train.csv").head(5)["sequence"].tolist()
    assert splits["train"].labels.tolist() == pd.read_csv(src / "train.csv").head(5)["label"].tolist()
    (tmp_path / "train.labels.tsv").write_text("id\tlabel\nr0\t1\n")
    with pytest.raises(DataError, match="record 'r1' has no label"):
        load_task(tmp_path, None, "label", "classification", None)
    # errors name the label table's row (not the FASTA record's index); a repeated id is not silently overwritten
    (tmp_path / "train.labels.tsv").write_text("id\tlabel\nr4\t1\nr3\t0\nr2\t1\nr1\t0\nr0\tx\n")
    with pytest.raises(DataError, match=r"train.labels.tsv row 5: label 'x' is not a number"):
        load_task(tmp_path, None, "label", "classification", None)
    (tmp_path / "train.labels.tsv").write_text("id\tlabel\nr0\t1\nr1\t0\nr2\t1\nr3\t0\nr4\t1\nr1\t1\n")
    with pytest.raises(DataError, match=r"train.labels.tsv row 6: id 'r1' appears more than once"):
        load_task(tmp_path, None, "label", "classification", None)


def test_help_expands_optional_sections(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["process", "--help"]) == 0
    out = capsys.readouterr().out
    for key in (
        "region.annotation.source",
        "region.genome.accession",
        "species.fragments_per_species",
        "qc.kmer",
    ):
        assert key in out, key


def test_unreachable_hub_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache: nothing to fall back on
    fasta = tmp_path / "in.fa"
    fasta.write_text(">a\nACGTACGT\n")
    code = main(
        [
            "inference",
            "mode=embed",
            "model.family=dnabert2",
            f"embed.input={fasta}",
            f"embed.output={tmp_path / 'e.parquet'}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "could not fetch 'zhihan1996/DNABERT-2-117M'" in err and "Traceback" not in err
