"""Saving and loading fine-tuned task models (``<run_dir>/model/``).

Layout: ``genomefactory_model.json`` (how to rebuild: family, architecture config, source, method, head,
pooling, plus the entries the method's ``before_save`` returns), ``model.safetensors`` and ``tokenizer/``. The
tuning method decides what is stored (``TuningMethod.saves_full_backbone``): when the backbone came from
published weights and was not changed (adapter) or only LoRA/head weights were trained (unmerged LoRA), only the
trainable tensors are stored and the backbone is re-loaded from its source; otherwise (full fine-tuning, merged
LoRA, random init) every tensor is stored, so the directory is self-contained. On loading, the method's
``rebuild_as`` names the method that rebuilds the model (a merged LoRA model is a full one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from ..errors import DataError, UserFileNotFoundError
from ..models.config import ModelConfig
from ..models.loading import load_backbone
from ..models.registry import Backbone, get_family
from ..models.weights import save_state_dict, strict_load
from .config import MethodConfig
from .heads import TaskModel
from .methods import build_task_model, get_method

META = "genomefactory_model.json"


@dataclass
class RunModel:
    model: TaskModel
    backbone: Backbone
    meta: dict[str, Any]

    @property
    def max_length(self) -> int:
        return int(self.meta["max_length"])


def save_run_model(
    model: TaskModel,
    backbone: Backbone,
    method: MethodConfig,
    task_type: str,
    num_labels: int,
    max_length: int,
    directory: Path,
    model_cfg: ModelConfig,
) -> Path:
    """Write the task model (after the method's ``before_save``, e.g. a LoRA merge) and return the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    tuning = get_method(method.name)
    extra = tuning.before_save(model, method)
    partial = not tuning.saves_full_backbone(method, backbone, model_cfg)
    state = model.state_dict()
    if partial:
        keep = {n for n, p in model.named_parameters() if p.requires_grad}
        state = {k: v for k, v in state.items() if k in keep}
    meta = {
        "format": 1,
        "family": backbone.family.name,
        "config": backbone.config,
        "source": backbone.source,
        "variant": backbone.variant,
        "revision": model_cfg.revision,
        "init": model_cfg.init,
        "method": method.model_dump(mode="json"),
        **extra,
        "task_type": task_type,
        "num_labels": num_labels,
        "pooling": model.pooling,
        "max_length": max_length,
        "weights": "trainable" if partial else "full",
    }
    save_state_dict(state, directory / "model.safetensors")
    (directory / META).write_text(json.dumps(meta, indent=2, default=str) + "\n")
    backbone.tokenizer.save_pretrained(str(directory / "tokenizer"))
    return directory


def is_run_model(path: str | Path) -> bool:
    p = Path(path)
    return (p / META).is_file() or (p / "model" / META).is_file()


def load_run_model(path: str | Path, device: str | torch.device = "cpu") -> RunModel:
    """Rebuild a saved task model (full, LoRA merged/unmerged, or adapter) bit-exactly."""
    directory = Path(path)
    if not (directory / META).is_file() and (directory / "model" / META).is_file():
        directory = directory / "model"
    if not (directory / META).is_file():
        raise UserFileNotFoundError(
            f"{path} is not a genomefactory model directory (no {META}); give a training run directory"
        )
    meta = json.loads((directory / META).read_text())
    family = get_family(meta["family"])
    if meta["weights"] == "trainable":
        backbone = load_backbone(
            ModelConfig(family=family.name, path=meta["source"], revision=meta.get("revision"))
        )
    else:
        model = family.build(meta["config"])
        from transformers import PreTrainedTokenizerFast

        tok = PreTrainedTokenizerFast.from_pretrained(str(directory / "tokenizer"))
        backbone = Backbone(family, model, tok, meta["config"], meta.get("source"), meta.get("variant"))
    method = MethodConfig.model_validate(meta["method"])
    rebuild = get_method(method.name).rebuild_as(meta)  # a merged LoRA model is rebuilt as a full one
    if rebuild != method.name:
        method = method.model_copy(update={"name": rebuild})
    task_model = build_task_model(backbone, method, meta["task_type"], int(meta["num_labels"]))
    task_model.pooling = meta["pooling"]
    state = load_file(str(directory / "model.safetensors"))
    if meta["weights"] == "trainable":
        own = task_model.state_dict()
        missing = sorted(k for k, p in task_model.named_parameters() if p.requires_grad and k not in state)
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise DataError(
                f"{directory}: trainable weights do not match (missing {missing[:5]}, "
                f"unexpected {unexpected[:5]})"
            )
        task_model.load_state_dict(state, strict=False)
    else:
        strict_load(task_model, state, where=str(directory))
    task_model.to(device).eval()
    return RunModel(task_model, backbone, meta)
