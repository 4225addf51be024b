"""``genomefactory-cli train``: fine-tune a model end to end with the Hugging Face ``Trainer``.

Run directory: ``metrics.json`` (dev and test metrics of the best checkpoint), ``predictions_test.csv``,
``trainer_log.jsonl`` (the training curve), ``model/`` (see ``model_io``), ``checkpoint-*/`` and
``manifest.json`` (resolved config, versions, input SHA-256s, seed, git commit).

Data parallel: under ``torchrun`` / ``accelerate launch`` the ``Trainer`` runs DDP (gloo on CPU, nccl on GPU);
the output directory is checked and written by global rank 0 only (each rank adds its own RNG state to the
Trainer's checkpoints), and adapter features are computed once per node by its main process while the others
wait and then read the cache. See docs/distributed.md.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from ..io import atomic_path, atomic_write_json, atomic_write_text, write_manifest
from ..models.checkpointing import enable_checkpointing
from ..models.loading import default_device, load_backbone, resolve_variant, save_state_dict
from .config import TrainConfig
from .data import PadCollator, TokenizedDataset, load_task, tokenize
from .features import FeatureCollator, FeatureDataset, cached_features
from .methods import build_task_model, count_parameters
from .metrics import LOWER_IS_BETTER, compute_metrics, resolve_best_metric, softmax
from .model_io import save_run_model

log = logging.getLogger("genomefactory.train")


@dataclass
class TrainResult:
    """What a training run produced."""

    output_dir: Path
    dev_metrics: dict[str, float]
    test_metrics: dict[str, float]
    trainable_params: int
    total_params: int
    train_seconds: float
    truncated_rows: int
    feature_cache_hits: int = 0
    files: dict[str, Path] = field(default_factory=dict)
    # training throughput: samples/s from the Trainer, tokens/s = samples/s x mean real tokens per training sequence
    # (special tokens included, padding never), the unit of the paper's Table 2
    train_samples_per_s: float | None = None
    train_tokens_per_s: float | None = None

    def summary(self) -> str:
        lines = [
            f"run directory: {self.output_dir}",
            f"trainable parameters: {self.trainable_params:,} of {self.total_params:,}",
            f"train time: {self.train_seconds:.1f} s",
            "dev:  " + ", ".join(f"{k}={v:.4f}" for k, v in self.dev_metrics.items()),
            "test: " + ", ".join(f"{k}={v:.4f}" for k, v in self.test_metrics.items()),
        ]
        lines += [f"{name}: {path}" for name, path in self.files.items()]
        return "\n".join(lines)


class _GFTrainer(Trainer):
    """Saves checkpoints with our safetensors writer (tied/shared tensors de-duplicated)."""

    def _save(self, output_dir: str | None = None, state_dict: dict[str, Any] | None = None) -> None:
        out = Path(output_dir or str(self.args.output_dir))
        out.mkdir(parents=True, exist_ok=True)
        assert self.model is not None
        save_state_dict(
            state_dict if state_dict is not None else self.model.state_dict(), out / "model.safetensors"
        )
        torch.save(self.args, out / "training_args.bin")

    def _get_eval_sampler(self, eval_dataset: Any) -> Any:
        # Evaluation keeps input order (predictions CSV rows = test rows); length grouping is for training only.
        if self.args.world_size <= 1:
            return torch.utils.data.SequentialSampler(eval_dataset)
        return None


class _JsonlLog(TrainerCallback):
    def __init__(self, path: Path) -> None:
        self.path = path

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if logs and state.is_world_process_zero:
            with open(self.path, "a") as fh:
                fh.write(json.dumps({"step": state.global_step, "epoch": state.epoch, **logs}) + "\n")


def _check_output_dir(cfg: TrainConfig) -> tuple[Path, str | None]:
    """Create the run directory; returns it and the checkpoint to resume from (None = fresh start).

    A fresh start removes the curve (``trainer_log.jsonl``) and ``checkpoint-*`` folders an earlier run left
    (``overwrite: true``), so the new curve is not appended to the old one and ``resume`` later cannot pick up an
    old run's checkpoint. A resumed run drops the log lines written after its checkpoint: they are logged again."""
    out = Path(cfg.output_dir)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun rank 0 may already be writing into it
        out.mkdir(parents=True, exist_ok=True)
        return out, get_last_checkpoint(str(out)) if cfg.training.resume else None
    if out.exists() and any(out.iterdir()) and not (cfg.training.resume or cfg.overwrite):
        raise ValueError(
            f"output_dir {out} is not empty; set training.resume=true to continue it, overwrite=true to reuse it, "
            "or choose another output_dir"
        )
    out.mkdir(parents=True, exist_ok=True)
    resume = get_last_checkpoint(str(out)) if cfg.training.resume else None
    if cfg.training.resume and resume is None:
        log.warning("training.resume=true but %s has no checkpoint: starting from scratch", out)
    curve = out / "trainer_log.jsonl"
    if resume is not None:
        _trim_log(curve, int(Path(resume).name.rsplit("-", 1)[1]))
        return out, resume
    curve.unlink(missing_ok=True)
    for old in out.glob("checkpoint-*"):
        if old.is_dir() and old.name.rsplit("-", 1)[1].isdigit():
            log.info("overwrite: removing %s of an earlier run", old)
            shutil.rmtree(old)
    return out, None


def _trim_log(path: Path, step: int) -> None:
    if not path.is_file():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # the line the interruption cut short
            log.warning("%s: dropping an incomplete line of the interrupted run", path)
            continue
        if entry.get("step", 0) <= step:
            keep.append(line)
    atomic_write_text(path, "".join(line + "\n" for line in keep))


def _training_args(cfg: TrainConfig, out: Path, lr: float, best: str, on_features: bool) -> TrainingArguments:
    t = cfg.training
    cuda = torch.cuda.is_available()
    if t.precision == "fp16" and not cuda:
        raise ValueError("training.precision=fp16 needs a GPU; use fp32 (or bf16) on CPU")
    strategy = "steps" if t.eval_steps else "epoch"
    return TrainingArguments(
        output_dir=str(out),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps or -1,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        learning_rate=lr,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_ratio,
        lr_scheduler_type=t.lr_scheduler,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        max_grad_norm=t.max_grad_norm if t.max_grad_norm > 0 else 1e9,
        bf16=t.precision == "bf16",
        fp16=t.precision == "fp16",
        eval_strategy=strategy,
        save_strategy=strategy,
        eval_steps=t.eval_steps,
        save_steps=t.eval_steps or 500,
        save_total_limit=t.save_total_limit,
        load_best_model_at_end=True,
        metric_for_best_model=best,
        greater_is_better=best not in LOWER_IS_BETTER,
        logging_steps=t.logging_steps,
        seed=t.seed,
        data_seed=t.seed,
        report_to="none",
        remove_unused_columns=False,
        label_names=["labels"],
        dataloader_num_workers=0,
        train_sampling_strategy="group_by_length" if (t.group_by_length and not on_features) else "random",
        optim="adamw_torch_fused" if (cuda and t.fused_adamw) else "adamw_torch",
        use_cpu=not cuda,
        disable_tqdm=False,
        save_only_model=False,
        torch_compile=t.compile,
    )


def _apply_checkpointing(cfg: TrainConfig, model: Any) -> None:
    if not cfg.training.gradient_checkpointing:
        return
    if cfg.method.name == "adapter":
        # the frozen backbone keeps no activations for backward (and with cached features it does not run at all)
        log.info(
            "training.gradient_checkpointing ignored for method adapter: the frozen backbone stores no "
            "activations for backward"
        )
        return
    enable_checkpointing(model.family, model.backbone)


def run_train(cfg: TrainConfig) -> TrainResult:
    """Fine-tune ``cfg.model`` on ``cfg.data`` with ``cfg.method``; write the run directory."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    task_type = cfg.task.type
    best = resolve_best_metric(task_type, cfg.training.metric_for_best)
    out, resume = _check_output_dir(cfg)
    splits, num_labels = load_task(
        cfg.data.path, cfg.data.sequence_column, cfg.data.label_column, task_type, cfg.task.num_labels
    )
    set_seed(cfg.training.seed)
    backbone = load_backbone(cfg.model)
    max_len = min(cfg.data.max_length or backbone.max_tokens, backbone.max_tokens)
    tok = backbone.tokenizer
    ids, truncated = {}, 0
    for name, sp in splits.items():
        ids[name], n = tokenize(tok, sp.sequences, max_len, str(sp.path))
        truncated += n
    model = build_task_model(backbone, cfg.method, task_type, num_labels)
    _apply_checkpointing(cfg, model)
    trainable, total = count_parameters(model)
    log.info(
        "model %s (%s): %d trainable of %d parameters",
        backbone.family.name,
        cfg.method.name,
        trainable,
        total,
    )
    label_dtype = torch.float32 if task_type == "regression" else torch.long
    collator: Any = PadCollator(tok.pad_token_id, tok.padding_side, label_dtype)
    on_features = cfg.method.name == "adapter" and cfg.method.adapter.cache_features
    hits = 0
    datasets: dict[str, Any] = {}
    lr = cfg.training.learning_rate or backbone.family.learning_rate
    args = _training_args(cfg, out, lr, best, on_features)
    if on_features:
        mode = "token" if cfg.method.adapter.kind == "cnn" else model.pooling
        device = args.device if args.world_size > 1 else default_device()
        model.to(device)
        # one process per node computes the features; the others wait, then hit the cache it wrote
        with args.main_process_first(desc="adapter features"):
            for name, sp in splits.items():
                feats, hit = cached_features(
                    model,
                    backbone,
                    ids[name],
                    collator,
                    mode,
                    max_len,
                    sp.path,
                    cfg.method.adapter.cache_dir,
                    cfg.training.eval_batch_size,
                    device,
                )
                hits += int(hit)
                datasets[name] = FeatureDataset(feats, sp.labels)
        collator = FeatureCollator(label_dtype)
    else:
        datasets = {name: TokenizedDataset(ids[name], sp.labels) for name, sp in splits.items()}

    def metrics_fn(p: Any) -> dict[str, float]:
        logits = p.predictions[0] if isinstance(p.predictions, tuple) else p.predictions
        return compute_metrics(task_type, np.asarray(logits), np.asarray(p.label_ids))

    trainer = _GFTrainer(
        model=model,
        args=args,
        train_dataset=datasets["train"],
        eval_dataset=datasets["dev"],
        data_collator=collator,
        compute_metrics=metrics_fn,
        callbacks=[_JsonlLog(out / "trainer_log.jsonl")],
    )
    start = time.perf_counter()
    out_metrics = trainer.train(resume_from_checkpoint=resume).metrics
    seconds = time.perf_counter() - start
    speed = _throughput(out_metrics, ids["train"])
    dev = _strip(trainer.evaluate(datasets["dev"], metric_key_prefix="eval"))
    pred = trainer.predict(datasets["test"], metric_key_prefix="test")
    test = _strip(pred.metrics or {})
    if not trainer.is_world_process_zero():  # every rank holds the gathered results; one writes them
        return TrainResult(out, dev, test, trainable, total, seconds, truncated, hits, {}, *speed)
    files = _write_outputs(
        out, best, pred, splits["test"], task_type, dev, test, trainer, seconds, truncated, speed
    )
    model_dir = save_run_model(
        model, backbone, cfg.method, task_type, num_labels, max_len, out / "model", cfg.model
    )
    files["model"] = model_dir
    inputs: list[str | Path] = [splits[s].path for s in splits]
    resolved = _resolved_config(
        cfg,
        lr=lr,
        best=best,
        pooling=model.pooling,
        num_labels=num_labels,
        max_len=max_len,
        family=backbone.family,
    )
    write_manifest(out, resolved, inputs, cfg.training.seed, "train")
    files["manifest"] = out / "manifest.json"
    return TrainResult(out, dev, test, trainable, total, seconds, truncated, hits, files, *speed)


def _throughput(
    train_metrics: dict[str, Any], train_ids: list[list[int]]
) -> tuple[float | None, float | None]:
    """(samples/s, real tokens/s) of training; None when the Trainer reported no speed (e.g. nothing left to do
    after a resume from the final checkpoint)."""
    sps = train_metrics.get("train_samples_per_second")
    if not sps or not train_ids:
        return None, None
    mean_tokens = float(np.mean([len(x) for x in train_ids]))
    return float(sps), float(sps) * mean_tokens


def _strip(metrics: dict[str, float]) -> dict[str, float]:
    keep = {}
    for k, v in metrics.items():
        name = k.split("_", 1)[1] if "_" in k else k
        if name in ("runtime", "samples_per_second", "steps_per_second", "epoch"):
            continue
        keep[name] = float(v)
    return keep


def _resolved_config(
    cfg: TrainConfig, lr: float, best: str, pooling: str, num_labels: int, max_len: int, family: Any
) -> dict[str, Any]:
    """The config with every default that was resolved at run time filled in (what the run really used)."""
    data = cfg.model_dump(mode="json")
    data["training"]["learning_rate"] = lr
    data["training"]["metric_for_best"] = best
    data["method"]["pooling"] = pooling
    data["task"]["num_labels"] = num_labels if cfg.task.type == "classification" else cfg.task.num_labels
    data["data"]["max_length"] = max_len
    if cfg.model.path is None and cfg.model.init != "tiny":  # a tiny model has no published variant
        data["model"]["variant"] = resolve_variant(family, cfg.model.variant)
    return data


def _write_outputs(
    out: Path,
    best: str,
    pred: Any,
    test_split: Any,
    task_type: str,
    dev: dict[str, float],
    test: dict[str, float],
    trainer: Trainer,
    seconds: float,
    truncated: int,
    speed: tuple[float | None, float | None],
) -> dict[str, Path]:
    import pandas as pd

    logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
    logits = np.asarray(logits, dtype=np.float64)
    table: dict[str, Any] = {"row": np.arange(len(test_split.labels)), "label": test_split.labels}
    if task_type == "regression":
        table["prediction"] = logits.reshape(-1)
    else:
        probs = softmax(logits)
        table["prediction"] = probs.argmax(-1)
        for k in range(probs.shape[1]):
            table[f"prob_{k}"] = probs[:, k]
    with atomic_path(out / "predictions_test.csv") as tmp:
        pd.DataFrame(table).to_csv(tmp, index=False)
    metrics = {
        "dev": dev,
        "test": test,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "best_metric": best,
        "train_seconds": seconds,
        "global_step": trainer.state.global_step,
        "truncated_rows": truncated,
        "train_samples_per_s": speed[0],
        "train_tokens_per_s": speed[1],
    }
    atomic_write_json(out / "metrics.json", metrics)
    return {
        "metrics": out / "metrics.json",
        "predictions": out / "predictions_test.csv",
        "log": out / "trainer_log.jsonl",
    }
