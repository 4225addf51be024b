"""``genomefactory-cli train``: fine-tune a model end to end with the Hugging Face ``Trainer``.

``run_train`` runs typed stages, validating everything it can before it writes anything:
``check_run`` (config, output dir) -> ``prepare_splits`` (task data) -> ``build_model`` (backbone + the
registered tuning method's task model) -> ``tokenize_splits`` -> ``open_run_dir`` (the folder is created only
now) -> :func:`fit` (the ``Trainer``; adapter features from the cache) -> ``write_run``.

Run directory: ``metrics.json`` (dev and test metrics of the best checkpoint), ``predictions_test.csv``,
``trainer_log.jsonl`` (the training curve), ``model/`` (see ``model_io``), ``checkpoint-*/`` and
``manifest.json`` (resolved config, versions, input SHA-256s, seed, git commit).

Data parallel: under ``torchrun`` / ``accelerate launch`` the ``Trainer`` runs DDP (gloo on CPU, nccl on GPU);
the output directory is checked and written by global rank 0 only (each rank adds its own RNG state to the
Trainer's checkpoints), and adapter features are computed once per node by its main process while the others
wait and then read the cache. See docs/distributed.md.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from ..models.loading import default_device
from ..models.weights import save_state_dict
from .config import TrainConfig
from .data import PadCollator, TokenizedDataset
from .features import FeatureCollator, FeatureDataset, cached_features
from .metrics import LOWER_IS_BETTER
from .per_base_metrics import eval_metrics
from .results import FitResult, TrainResult
from .run_dir import RunPlan, check_run, open_run_dir, resolved_config, write_run
from .sharding import (
    check_sharding,
    enable_fsdp_off_gpu,
    gather_unsharded,
    launched,
    load_full_optimizer,
    local_parameter_count,
    meta_copy,
    shard_fp32_modules,
    sharding_arguments,
    update_plugin_args,
)
from .stages import BuiltModel, PreparedData, TokenizedData, build_model, prepare_splits, tokenize_splits
from .task_types import is_per_base, is_regression
from .tracking import check_trackers, tracking_env, trainer_report_to

__all__ = ["TrainResult", "fit", "run_train"]

log = logging.getLogger("genomefactory.train")


class _GFTrainer(Trainer):
    """Saves checkpoints with our safetensors writer (tied/shared tensors de-duplicated)."""

    def _save(self, output_dir: str | None = None, state_dict: dict[str, Any] | None = None) -> None:
        if not self.args.should_save:  # sharded engines call this on every rank (rank 0 holds the full state)
            return
        out = Path(output_dir or str(self.args.output_dir))
        out.mkdir(parents=True, exist_ok=True)
        assert self.model is not None
        save_state_dict(
            state_dict if state_dict is not None else self.model.state_dict(), out / "model.safetensors"
        )
        torch.save(self.args, out / "training_args.bin")

    def create_accelerator_and_postprocess(self) -> None:
        super().create_accelerator_and_postprocess()
        plugin_args = getattr(self.args, "fsdp_plugin_args", None)
        if plugin_args and not self.is_fsdp_enabled and enable_fsdp_off_gpu(self.accelerator, plugin_args):
            self.is_fsdp_enabled = True

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        if checkpoint is None or not self.is_fsdp_enabled:
            super()._load_optimizer_and_scheduler(checkpoint)
            return
        load_full_optimizer(self.model_wrapped, self.optimizer, checkpoint, self.is_world_process_zero())
        scheduler = torch.load(Path(checkpoint) / "scheduler.pt", weights_only=True)
        self.lr_scheduler.load_state_dict(scheduler)  # type: ignore[union-attr]

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


def _training_args(
    cfg: TrainConfig, out: Path, lr: float, best: str, on_features: bool, engine: dict[str, Any] | None = None
) -> TrainingArguments:
    """The Trainer's arguments; ``engine``: the sharding keywords (``train/sharding.py``; none = DDP)."""
    t = cfg.training
    cuda = torch.cuda.is_available()
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
        report_to=trainer_report_to(t.report_to),
        run_name=t.run_name,
        remove_unused_columns=False,
        label_names=["labels"],
        dataloader_num_workers=0,
        train_sampling_strategy="group_by_length" if (t.group_by_length and not on_features) else "random",
        optim="adamw_torch_fused" if (cuda and t.fused_adamw) else "adamw_torch",
        use_cpu=not cuda,
        disable_tqdm=False,
        save_only_model=False,
        torch_compile=t.compile,
        **(engine or {}),
    )


def run_train(cfg: TrainConfig) -> TrainResult:
    """Fine-tune ``cfg.model`` on ``cfg.data`` with ``cfg.method``; write the run directory."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    check_trackers(cfg.training.report_to)
    check_sharding(cfg.training.distributed)
    plan = check_run(cfg)
    data = prepare_splits(cfg)
    built = build_model(cfg, data)
    tokens = tokenize_splits(data, built)
    open_run_dir(plan)
    t = cfg.training
    with tracking_env(t.report_to, plan.output_dir, t.run_name, t.run_tags):
        result = fit(cfg, plan, data, built, tokens)
    return write_run(cfg, plan, data, built, tokens, result)


def _datasets(
    cfg: TrainConfig, data: PreparedData, built: BuiltModel, tokens: TokenizedData, args: TrainingArguments
) -> tuple[dict[str, Any], Any, int]:
    """Per-split datasets and their collator: token ids, or the frozen backbone's cached features when the
    tuning method trains on them. Returns (datasets, collator, feature cache hits)."""
    label_dtype = torch.float32 if is_regression(data.task_type) else torch.long
    tok = built.backbone.tokenizer
    collator = PadCollator(tok.pad_token_id, tok.padding_side, label_dtype)
    method, model = built.method, built.model
    per_base = tokens.base_index if is_per_base(data.task_type) else None
    if per_base is not None:
        from .per_base import PerBaseCollator, PerBaseDataset

        base_collator = PerBaseCollator(tok.pad_token_id, tok.padding_side, is_regression(data.task_type))
    if not method.uses_feature_cache(cfg.method):
        datasets: dict[str, Any]
        if per_base is not None:
            datasets = {
                n: PerBaseDataset(tokens.ids[n], per_base[n], sp.labels) for n, sp in data.splits.items()
            }
            return datasets, base_collator, 0
        datasets = {n: TokenizedDataset(tokens.ids[n], sp.labels) for n, sp in data.splits.items()}
        return datasets, collator, 0
    # per-base heads read every token's state, whatever the method's pooling
    mode = "token" if per_base is not None else method.feature_mode(cfg.method, model.pooling)
    device = args.device if args.world_size > 1 else default_device()
    model.to(device)
    hits, feats = 0, {}
    # one process per node computes the features; the others wait, then hit the cache it wrote
    with args.main_process_first(desc="features of the frozen backbone"):
        for name, sp in data.splits.items():
            feats[name], hit = cached_features(
                model,
                built.backbone,
                tokens.ids[name],
                collator,
                mode,
                built.max_len,
                sp.path,
                method.feature_cache_dir(cfg.method),
                cfg.training.eval_batch_size,
                device,
            )
            hits += int(hit)
    if per_base is not None:
        datasets = {
            n: PerBaseDataset(_token_rows(feats[n]), per_base[n], sp.labels, key="features")
            for n, sp in data.splits.items()
        }
        return datasets, base_collator, hits
    datasets = {n: FeatureDataset(feats[n], sp.labels) for n, sp in data.splits.items()}
    return datasets, FeatureCollator(label_dtype), hits


def _token_rows(feats: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """Cached token states (one block + row offsets) as one (tokens, hidden) tensor per sequence."""
    off = feats["offsets"].tolist()
    return [feats["states"][a:b] for a, b in itertools.pairwise(off)]


def fit(
    cfg: TrainConfig, plan: RunPlan, data: PreparedData, built: BuiltModel, tokens: TokenizedData
) -> FitResult:
    """Train with the ``Trainer`` (resuming when planned), then score dev and test with the best checkpoint."""
    out = plan.output_dir
    t = cfg.training
    on_features = built.method.uses_feature_cache(cfg.method)
    model = built.model
    engine = sharding_arguments(
        t.distributed, t.fsdp, t.deepspeed, t.precision, model.family, model.backbone, launched()
    )
    args = _training_args(cfg, out, built.learning_rate, plan.best_metric, on_features, engine)
    datasets, collator, hits = _datasets(cfg, data, built, tokens, args)
    fsdp = "fsdp" in engine
    skeleton = meta_copy(model) if engine else None  # receives the gathered weights for model/
    if fsdp:
        update_plugin_args(args, t.fsdp, t.precision)
        if model.backbone is not None:
            shard_fp32_modules(model.family, model.backbone, t.fsdp, t.precision)
    task_type = data.task_type

    def metrics_fn(p: Any) -> dict[str, float]:
        return eval_metrics(task_type, p.predictions, p.label_ids)

    trainer = _GFTrainer(
        model=built.model,
        args=args,
        train_dataset=datasets["train"],
        eval_dataset=datasets["dev"],
        data_collator=collator,
        compute_metrics=metrics_fn,
        callbacks=[_JsonlLog(out / "trainer_log.jsonl")],
    )
    start = time.perf_counter()
    train_metrics = trainer.train(resume_from_checkpoint=plan.resume).metrics
    seconds = time.perf_counter() - start
    samples_s, tokens_s = _throughput(train_metrics, tokens.ids["train"])
    dev = _strip(trainer.evaluate(datasets["dev"], metric_key_prefix="eval"))
    pred = trainer.predict(datasets["test"], metric_key_prefix="test")
    held = local_parameter_count(trainer.model_wrapped) if fsdp else None
    if skeleton is not None:
        # model/ is written from an un-sharded copy holding the best checkpoint's gathered weights (rank 0)
        full = gather_unsharded(
            trainer.accelerator, trainer.model_wrapped, skeleton, trainer.is_world_process_zero()
        )
        if full is not None:
            built.model = full  # type: ignore[assignment]
    return FitResult(
        dev_metrics=dev,
        test_metrics=_strip(pred.metrics or {}),
        test_logits=np.asarray(_logits(pred.predictions), dtype=np.float64),
        test_base_mask=_base_mask(pred.predictions) if is_per_base(task_type) else None,
        train_seconds=seconds,
        best_checkpoint=trainer.state.best_model_checkpoint,
        global_step=trainer.state.global_step,
        feature_cache_hits=hits,
        train_samples_per_s=samples_s,
        train_tokens_per_s=tokens_s,
        is_main_process=trainer.is_world_process_zero(),
        local_parameters=held,
    )


def _logits(predictions: Any) -> Any:
    return predictions[0] if isinstance(predictions, tuple) else predictions


def _base_mask(predictions: Any) -> np.ndarray:
    """Per-base tasks: 1 where a test base has an output (the Trainer pads gathered batches with -100)."""
    return np.asarray(predictions[1]) == 1


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


_resolved_config = resolved_config  # kept importable from here (tests, older callers)
