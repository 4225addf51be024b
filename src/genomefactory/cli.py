"""``genomefactory-cli COMMAND [config.yaml] [key=value ...]`` — the CLI is a table.

Each row of :data:`COMMANDS` names a config class and the function that runs it; the same functions are the
Python API. ``--help`` output is generated from the config classes' field descriptions (written once).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from .config import ConfigError, describe_config, load_config

__all__ = ["COMMANDS", "Command", "main"]


@dataclass(frozen=True)
class Command:
    config: str  # "module:ConfigClass" (imported lazily so `--help` stays fast)
    run: str  # "module:function" taking the config, returning a result object
    help: str
    config_optional: bool = False  # e.g. `download` with no config = interactive mode
    no_config: str | None = None  # "module:function" called when no config file is given


COMMANDS: dict[str, Command] = {
    "train": Command(
        "genomefactory.train.config:TrainConfig",
        "genomefactory.train.finetune:run_train",
        "Fine-tune a model (full / LoRA / adapter) for classification or regression.",
    ),
    "inference": Command(
        "genomefactory.infer.config:InferenceConfig",
        "genomefactory.infer.config:run_inference",
        "Predict with a trained run, extract embeddings, or generate sequences.",
    ),
    "sae_train": Command(
        "genomefactory.interpret.config:SAETrainConfig",
        "genomefactory.interpret.train_sae:run_sae_train",
        "Train a sparse auto-encoder (TopK or ReLU+L1) on model embeddings.",
    ),
    "sae_regression": Command(
        "genomefactory.interpret.config:SAERegressionConfig",
        "genomefactory.interpret.regress:run_sae_regression",
        "Relate SAE latent units to readouts (length, GC, motifs, k-mers, CSV columns).",
    ),
    "download": Command(
        "genomefactory.collect.config:DownloadConfig",
        "genomefactory.collect.download:run_download",
        "Download genomes from NCBI (species, taxa, accessions) or links; no config = interactive.",
        no_config="genomefactory.collect.interactive:main",
    ),
    "process": Command(
        "genomefactory.collect.config:ProcessConfig",
        "genomefactory.collect.process:run_process",
        "Build a species / promoter / enhancer / histone dataset with QC and train/dev/test splits.",
    ),
    "benchmark": Command(
        "genomefactory.benchmark.config:BenchmarkConfig",
        "genomefactory.benchmark.run:run_benchmark",
        "Sweep models × methods × tasks × seeds on GUE / Genomic Benchmarks / custom suites.",
    ),
    "variants": Command(
        "genomefactory.variants.config:VariantsConfig",
        "genomefactory.variants.run:run_variants",
        "Score variant effects (VCF/TSV + FASTA) with a model; evaluate labelled sets (AUROC/AUPRC).",
    ),
    "webui": Command(
        "genomefactory.webui.config:WebUIConfig",
        "genomefactory.webui.config:run_webui",
        "Start the web interface (127.0.0.1, no share link) over every command.",
        config_optional=True,
    ),
}

_EXTRA = {
    "models": "List registered model families, their variants (paper Table 5) and hub ids.",
    "help": "Show help for a command: genomefactory-cli help COMMAND.",
}


def _load(ref: str) -> Any:
    module, attr = ref.split(":")
    return getattr(importlib.import_module(module), attr)


def available_commands() -> dict[str, Command]:
    """Commands whose implementation imports (only commands that work are listed)."""
    ok: dict[str, Command] = {}
    for name, cmd in COMMANDS.items():
        try:
            _load(cmd.config)
            _load(cmd.run)
        except (ImportError, AttributeError):
            continue
        ok[name] = cmd
    return ok


def print_overview(console: Console) -> None:
    console.print("[bold]genomefactory-cli[/bold] COMMAND [config.yaml] [key=value ...]\n")
    table = Table(show_header=True, header_style="bold")
    table.add_column("command")
    table.add_column("what it does")
    for name, cmd in available_commands().items():
        table.add_row(name, cmd.help)
    for name, text in _EXTRA.items():
        table.add_row(name, text)
    console.print(table)
    console.print(
        "`genomefactory-cli COMMAND --help` lists every config key with its type, default and meaning."
    )
    console.print("Overrides use dotted paths, e.g. training.epochs=3 model.family=dnabert2.")


def print_command_help(console: Console, name: str, cmd: Command) -> None:
    cls = _load(cmd.config)
    console.print(f"[bold]genomefactory-cli {name}[/bold] config.yaml [key=value ...]\n{cmd.help}\n")
    table = Table(show_header=True, header_style="bold", expand=True)
    for col in ("key", "type", "default", "meaning"):
        table.add_column(col, overflow="fold")
    for key, typ, default, text in describe_config(cls):
        table.add_row(key, typ, default, text)
    console.print(table)


def print_models(console: Console) -> None:
    from .models.registry import all_families

    table = Table(show_header=True, header_style="bold")
    for col in ("family", "kind", "variant", "hub id", "description"):
        table.add_column(col, overflow="fold")
    for fam in all_families():
        for i, (variant, hub) in enumerate(fam.variants.items()):
            table.add_row(
                fam.name if i == 0 else "",
                fam.kind if i == 0 else "",
                variant,
                hub or "-",
                fam.description if i == 0 else "",
            )
    console.print(table)


def _summarise(console: Console, result: Any) -> None:
    summary = getattr(result, "summary", None)
    if callable(summary):
        console.print(summary())
    elif result is not None:
        console.print(result)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # piped output (files, tests, the web UI) gets wide tables instead of folded cells
    console = Console(width=None if sys.stdout.isatty() else 220)
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 220)
    if not args or args[0] in ("-h", "--help"):
        print_overview(console)
        return 0
    name, rest = args[0], args[1:]
    if name == "models":
        print_models(console)
        return 0
    if name == "help":
        name, rest = (rest[0], ["--help"]) if rest else ("", [])
        if not name:
            print_overview(console)
            return 0
    if name not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(name, [*COMMANDS, *_EXTRA], n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        err.print(f"[red]error:[/red] unknown command {name!r}.{hint} Run `genomefactory-cli --help`.")
        return 2
    cmd = COMMANDS[name]  # only this command's modules are imported (fast start)
    if "-h" in rest or "--help" in rest:
        print_command_help(console, name, cmd)
        return 0
    path = rest[0] if rest and "=" not in rest[0] else None
    overrides = rest[1:] if path is not None else rest
    if path is None and cmd.no_config and not overrides:
        _load(cmd.no_config)()
        return 0
    if path is None and not cmd.config_optional and not overrides:
        err.print(f"[red]error:[/red] `{name}` needs a config file: genomefactory-cli {name} config.yaml")
        return 2
    try:
        cfg = load_config(_load(cmd.config), path, overrides)
        result = _load(cmd.run)(cfg)
    except (
        ConfigError,
        OSError,
        ValueError,
    ) as exc:  # OSError: missing files, permissions, hub fetch failures
        err.print(f"[red]error:[/red] {exc}")
        return 2
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]")
        return 130
    _summarise(console, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
