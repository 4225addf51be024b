"""``genomefactory-cli pretrain``: continued (domain-adaptive) pre-training of a model on FASTA files.

Stages, everything checked before anything is written: the output folder may be used -> the corpus opens and
splits (:mod:`.corpus`) -> the model loads (published weights, ``model.path`` or ``init: random|tiny``; the
family's *full* published model, with its own LM head) and the objective fits it (mlm needs a mask token, clm a
decoder) -> a validation window fits the model's maximum length -> the run folder is created -> the Hugging Face
``Trainer`` optimises (DDP under ``torchrun`` / ``accelerate launch``, gloo on CPU) -> rank 0 writes the run.

Run directory: ``model/`` (``config.json`` + ``model.safetensors`` in the family's published layout, written by
the family's own ``save``, and the tokenizer files: it loads back strictly as ``model.path`` in ``train``,
``inference`` and ``variants``), ``metrics.json`` (validation perplexity before training, along it and at the end;
time), ``trainer_log.jsonl`` (loss curve and validation points) and ``manifest.json``.

LM heads (each family's ``build`` is its full published model; the loss uses its ``logits``, and ``save`` writes the
published names back): NT v1/v2 ``lm_head.{dense,layer_norm,decoder,bias}`` (EsmForMaskedLM, untied); DNABERT-2
``cls.predictions.*`` (BertForMaskedLM, decoder tied to the word embeddings); Caduceus ``lm_head`` (tied to the
embedding, the RC-equivariant RCPS head for PS; the tied copy is omitted on save as published); HyenaDNA ``lm_head``
(HyenaDNAForCausalLM, untied); Evo ``unembed`` (tied to ``embedding_layer``, omitted on save); GenomeOcean
``lm_head`` (MistralForCausalLM, untied); hf_auto: the ``*ForMaskedLM`` / ``*ForCausalLM`` the checkpoint names.

Padding: windows have a fixed number of bases, so only variable-length tokenizers (BPE) pad. A causal LM's batch is
padded on the right whatever its tokenizer's side (real tokens then keep positions 0..n-1 and never see a pad, so a
left-padding family needs no position ids); an encoder's batch on its tokenizer's side, masked.

Validation perplexity = exp(summed token NLL / number of targets) over the fixed held-out windows (mlm: the masked
tokens, a pseudo-perplexity; clm: every next token). Every rank scores the same windows, so no reduction is needed.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from ..config import ConfigError
from ..io import atomic_write_json, write_manifest
from ..models.loading import load_backbone
from ..models.registry import Backbone
from .config import PretrainConfig
from .corpus import Corpus
from .data import LMCollator, Tokenize, TrainWindows, validation_examples
from .objective import LMObjective, Masker, token_nll

__all__ = ["PretrainResult", "run_pretrain", "validation_perplexity"]

log = logging.getLogger("genomefactory.pretrain")


@dataclass
class PretrainResult:
    """What a pre-training run produced; ``curve``: (step, validation perplexity) points, step 0 first."""

    output_dir: Path
    objective: str
    family: str
    curve: list[tuple[int, float]]
    train_seconds: float
    steps: int
    parameters: int
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def initial_perplexity(self) -> float:
        return self.curve[0][1]

    @property
    def final_perplexity(self) -> float:
        return self.curve[-1][1]

    def summary(self) -> str:
        lines = [
            f"run directory: {self.output_dir}",
            f"{self.family} ({self.parameters:,} parameters), objective {self.objective}, {self.steps} steps "
            f"in {self.train_seconds:.1f} s",
            f"validation perplexity: {self.initial_perplexity:.3f} -> {self.final_perplexity:.3f}",
        ]
        lines += [f"{name}: {path}" for name, path in self.files.items()]
        return "\n".join(lines)


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def _check_output(cfg: PretrainConfig) -> Path:
    if cfg.training.precision == "fp16" and not torch.cuda.is_available():
        raise ConfigError("training.precision=fp16 needs a GPU; use fp32 (or bf16) on CPU")
    out = Path(cfg.output_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output_dir {out} is a file; choose a folder")
    if _rank() == 0 and out.is_dir() and any(out.iterdir()) and not cfg.overwrite:
        # a run killed before its end leaves trainer_log.jsonl but no metrics.json (written last): say so
        what = "holds a finished run" if (out / "metrics.json").is_file() else "holds an unfinished run"
        raise ConfigError(
            f"output_dir {out} is not empty ({what}); set overwrite=true to start again there, or choose "
            "another output_dir"
        )
    if cfg.model.path is not None and cfg.model.family is not None and cfg.model.init == "tiny":
        # the loader builds a tiny random model of model.family and would not read model.path at all
        raise ConfigError(
            f"model.path {cfg.model.path} would be ignored: model.init=tiny builds a new random model; set "
            "model.init=pretrained to continue from the checkpoint, or remove model.path"
        )
    return out


def _objective(cfg: PretrainConfig, backbone: Backbone) -> tuple[str, str | None]:
    """('mlm' | 'clm', mask token) for this model, or the error saying why the objective does not fit it."""
    fam, decoder = backbone.family, backbone.family.is_decoder(backbone.config)
    kind = cfg.objective.type if cfg.objective.type != "auto" else ("clm" if decoder else "mlm")
    if kind == "clm":
        if not decoder:
            raise ConfigError(
                f"objective.type=clm needs a causal decoder; {fam.name} is a bidirectional encoder (it sees the "
                "token it would predict): use objective.type=mlm"
            )
        return kind, None
    mask = fam.mask_token or backbone.tokenizer.mask_token
    if not mask:
        raise ConfigError(
            f"objective.type=mlm needs a mask token; {fam.name}'s tokenizer has none"
            + (" (it is a decoder: use objective.type=clm)" if decoder else "")
        )
    return kind, str(mask)


@torch.no_grad()
def validation_perplexity(
    objective: LMObjective, examples: list[dict[str, list[int]]], collate: LMCollator, batch: int
) -> tuple[float, int]:
    """(perplexity, number of targets) of ``examples``; the model is put back into its mode afterwards."""
    was_training = objective.training
    objective.eval()
    device = next(objective.parameters()).device
    nll, n = 0.0, 0
    for i in range(0, len(examples), batch):
        b = {k: v.to(device) for k, v in collate(examples[i : i + batch]).items()}
        logits = objective.model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        s, c = token_nll(logits, b["labels"], objective.causal)
        nll, n = nll + float(s), n + c
    objective.train(was_training)
    return math.exp(nll / max(n, 1)), n


class _Validate(TrainerCallback):
    """Validation perplexity every ``every`` steps and at the end; the curve and the Trainer's logs to jsonl."""

    def __init__(self, run: Any, every: int, log_path: Path) -> None:
        self.run, self.every, self.path = run, every, log_path
        self.curve: list[tuple[int, float]] = []

    def point(self, step: int) -> None:
        ppl, _ = self.run()
        self.curve.append((step, ppl))
        log.info("step %d: validation perplexity %.4f", step, ppl)
        self._write({"step": step, "val_perplexity": ppl})

    def _write(self, entry: dict[str, Any]) -> None:
        if _rank() == 0:
            with open(self.path, "a") as fh:
                fh.write(json.dumps(entry) + "\n")

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.global_step % self.every == 0 or state.global_step == state.max_steps:
            self.point(state.global_step)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if logs:
            self._write({"step": state.global_step, **logs})


def _args(cfg: PretrainConfig, out: Path, lr: float) -> TrainingArguments:
    t, cuda = cfg.training, torch.cuda.is_available()
    return TrainingArguments(
        output_dir=str(out),
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        learning_rate=lr,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_ratio,
        lr_scheduler_type=t.lr_scheduler,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        max_grad_norm=t.max_grad_norm if t.max_grad_norm > 0 else 1e9,
        bf16=t.precision == "bf16",
        fp16=t.precision == "fp16",
        eval_strategy="no",
        save_strategy="no",
        logging_steps=t.logging_steps,
        seed=t.seed,
        data_seed=t.seed,
        report_to=[],
        remove_unused_columns=False,
        label_names=["labels"],
        dataloader_num_workers=0,
        use_cpu=not cuda,
        disable_tqdm=False,
    )


def run_pretrain(cfg: PretrainConfig) -> PretrainResult:
    """Pre-train ``cfg.model`` on ``cfg.data`` with ``cfg.objective``; write the run directory."""
    from transformers import set_seed

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    out = _check_output(cfg)
    d, t = cfg.data, cfg.training
    corpus = Corpus(
        d.paths,
        d.window,
        val_contigs=d.val_contigs,
        val_fraction=d.val_fraction,
        pack_short=d.pack_short,
        seed=t.seed,
    )
    created = not out.exists()
    try:
        return _run(cfg, out, corpus, set_seed)
    except BaseException:
        if created and _rank() == 0:  # a failed or interrupted run leaves no half-made run folder
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        corpus.close()


def _run(cfg: PretrainConfig, out: Path, corpus: Corpus, set_seed: Any) -> PretrainResult:
    d, t, o = cfg.data, cfg.training, cfg.objective
    set_seed(t.seed)
    backbone = load_backbone(cfg.model)
    kind, mask = _objective(cfg, backbone)
    tok = backbone.tokenizer
    special = frozenset(int(i) for i in tok.all_special_ids)
    masker = (
        None
        if mask is None
        else Masker.for_tokenizer(tok, mask, o.mask_rate, o.mask_token_rate, o.random_token_rate)
    )
    probe = tok(corpus.window_seq(corpus.val, corpus.val_tiles(1)[0]), add_special_tokens=True)["input_ids"]
    if len(probe) > backbone.max_tokens:
        raise ConfigError(
            f"data.window={d.window} bases make {len(probe)} tokens, more than {backbone.family.name}'s maximum of "
            f"{backbone.max_tokens}; lower data.window"
        )
    tokenize = Tokenize(tok, backbone.max_tokens)
    val = validation_examples(corpus, d.val_windows, tokenize, masker, special, t.seed)
    lr = t.learning_rate or backbone.family.default_learning_rate(cfg.model.init)
    objective = LMObjective(backbone.model, causal=kind == "clm")
    args = _args(cfg, out, lr)
    n_train = t.max_steps * t.batch_size * t.gradient_accumulation_steps * max(1, args.world_size)
    train = TrainWindows(corpus, n_train, tokenize, masker, special, t.seed, d.rc_augment, d.max_n_fraction)
    pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else 0)
    collate = LMCollator(pad_id, "right" if kind == "clm" else tok.padding_side)  # see the module docstring

    out.mkdir(parents=True, exist_ok=True)
    if _rank() == 0:  # overwrite: a new curve, not appended to an earlier run's
        (out / "trainer_log.jsonl").unlink(missing_ok=True)
    validate = _Validate(
        lambda: validation_perplexity(objective, val, collate, t.eval_batch_size),
        t.eval_steps or max(1, t.max_steps // 10),
        out / "trainer_log.jsonl",
    )
    trainer = Trainer(
        model=objective, args=args, train_dataset=train, data_collator=collate, callbacks=[validate]
    )
    validate.point(0)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    n_params = sum(p.numel() for p in backbone.model.parameters())
    result = PretrainResult(
        out, kind, backbone.family.name, validate.curve, seconds, trainer.state.global_step, n_params
    )
    if trainer.is_world_process_zero():
        _write(cfg, result, backbone, corpus, lr, len(val))
    return result


def _write(
    cfg: PretrainConfig, result: PretrainResult, backbone: Backbone, corpus: Corpus, lr: float, n_val: int
) -> None:
    out = result.output_dir
    model_dir = out / "model"
    backbone.family.save(backbone.model, backbone.config, model_dir)
    backbone.tokenizer.save_pretrained(str(model_dir))
    metrics = {
        "objective": result.objective,
        "family": result.family,
        "parameters": result.parameters,
        "steps": result.steps,
        "train_seconds": result.train_seconds,
        "val_perplexity_initial": result.initial_perplexity,
        "val_perplexity_final": result.final_perplexity,
        "val_curve": [{"step": s, "val_perplexity": p} for s, p in result.curve],
        "val_windows": n_val,
        "train_bases": corpus.train_bases,
        "val_bases": corpus.val_bases,
        "val_records": sorted({p.name for s in corpus.val for p in s.pieces}),
    }
    atomic_write_json(out / "metrics.json", metrics)
    resolved = cfg.model_dump(mode="json")
    resolved["training"]["learning_rate"] = lr
    resolved["objective"]["type"] = result.objective
    resolved["model"]["family"] = result.family
    write_manifest(out, resolved, cfg.data.paths, cfg.training.seed, "pretrain")
    result.files = {
        "model": model_dir,
        "metrics": out / "metrics.json",
        "log": out / "trainer_log.jsonl",
        "manifest": out / "manifest.json",
    }
