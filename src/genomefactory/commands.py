"""The table of commands: name -> (config class, function, help), shared by the CLI and the web UI.

Each row names its config class and run function as ``"module:attr"`` strings, imported only when needed, so
listing the commands (``--help``, the web UI's tabs) imports no command's implementation. Adding a command = one
row here; the CLI help and the web UI form follow from its config class.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any

from .errors import missing_extra

__all__ = ["COMMANDS", "EXTRA", "Command", "available_commands", "check_needs", "load_ref"]


@dataclass(frozen=True)
class Command:
    config: str  # "module:ConfigClass" (imported lazily so `--help` stays fast)
    run: str  # "module:function" taking the config, returning a result object
    help: str
    config_optional: bool = False  # e.g. `download` with no config = interactive mode
    no_config: str | None = None  # "module:function" called when no config file is given
    needs: tuple[tuple[str, str], ...] = ()  # (importable module, pip extra) checked before the command runs


COMMANDS: dict[str, Command] = {
    "train": Command(
        "genomefactory.train.config:TrainConfig",
        "genomefactory.train.finetune:run_train",
        "Fine-tune a model (full / LoRA / adapter): classification or regression, per sequence or per base.",
    ),
    "pretrain": Command(
        "genomefactory.pretrain.config:PretrainConfig",
        "genomefactory.pretrain.run:run_pretrain",
        "Continue pre-training a model on FASTA files (masked-LM for encoders, causal LM for decoders).",
    ),
    "inference": Command(
        "genomefactory.infer.config:InferenceConfig",
        "genomefactory.infer.run:run_inference",
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
    "attribute": Command(
        "genomefactory.interpret.attribute.config:AttributeConfig",
        "genomefactory.interpret.attribute.run:run_attribute",
        "Per-base attributions of a trained run (ISM, integrated gradients, input x gradient) + report.",
    ),
    "motifs": Command(
        "genomefactory.interpret.motifs.config:MotifsConfig",
        "genomefactory.interpret.motifs.run:run_motifs",
        "Discover motifs in a run's attributions (TF-MoDISco) and match them to JASPAR / a MEME file (TOMTOM).",
        needs=(
            ("modiscolite", "motifs"),
            ("memelite", "motifs"),
            ("pyjaspar", "motifs"),
            ("logomaker", "motifs"),
        ),
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
    "per_base_data": Command(
        "genomefactory.collect.per_base_config:PerBaseDataConfig",
        "genomefactory.collect.tasks.per_base:run_per_base_data",
        "Build a per-base task (gene-structure classes from GenBank / GTF+FASTA, or bigWig values).",
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
    "plan": Command(
        "genomefactory.plan.config:PlanConfig",
        "genomefactory.plan.run:run_plan",
        "Plan GPU memory of a train config (meta device): ddp / fsdp / deepspeed / qlora on N GPUs, what fits.",
    ),
    "webui": Command(
        "genomefactory.webui.config:WebUIConfig",
        "genomefactory.webui.app:serve",
        "Start the web interface (127.0.0.1, no share link) over every command.",
        config_optional=True,
        needs=(("gradio", "webui"),),
    ),
}

EXTRA = {
    "models": "List registered model families, their variants (paper Table 5) and hub ids.",
    "help": "Show help for a command: genomefactory-cli help COMMAND.",
}


def _load(ref: str) -> Any:
    module, attr = ref.split(":")
    return getattr(importlib.import_module(module), attr)


def available_commands() -> dict[str, Command]:
    """Commands whose config class imports (a command whose optional package is missing still appears: running
    it says which ``pip install`` fixes it)."""
    ok: dict[str, Command] = {}
    for name, cmd in COMMANDS.items():
        try:
            _load(cmd.config)
        except (ImportError, AttributeError):
            continue
        ok[name] = cmd
    return ok


def check_needs(name: str, cmd: Command) -> None:
    """Refuse to start a command whose optional packages are missing (one line naming the fix)."""
    for module, extra in cmd.needs:
        if importlib.util.find_spec(module) is None:
            raise missing_extra(f"`{name}`", module, extra)


load_ref = _load
