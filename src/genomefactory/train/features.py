"""Frozen-backbone feature cache for adapter tuning.

Key = SHA-256 of (family, architecture config, weights fingerprint, pooling or 'token', max length, tokenizer
vocabulary, split file SHA-256). Pooled features are float32 (N, hidden); token states (CNN adapter) are stored
as one float16 (total_tokens, hidden) block plus row offsets. Files are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..io import atomic_path, sha256_file
from ..models.pooling import pool
from .data import PadCollator

log = logging.getLogger("genomefactory.train")


def cache_root(cache_dir: str | None) -> Path:
    if cache_dir:
        return Path(cache_dir)
    env = os.environ.get("GENOMEFACTORY_CACHE")
    return Path(env) / "features" if env else Path.home() / ".cache" / "genomefactory" / "features"


def weights_fingerprint(backbone: Any) -> str:
    """Source id for published weights, else a hash of the (random) weights themselves."""
    if backbone.source:
        return f"source:{backbone.source}"
    h = hashlib.sha256()
    for name, t in sorted(backbone.base.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().float().cpu().numpy().tobytes())
    return "weights:" + h.hexdigest()


def cache_key(backbone: Any, mode: str, max_length: int, split_path: Path) -> str:
    vocab = sorted(backbone.tokenizer.get_vocab().items())
    blob = json.dumps(
        {
            "family": backbone.family.name,
            "config": backbone.config,
            "weights": weights_fingerprint(backbone),
            "mode": mode,
            "max_length": max_length,
            "vocab": hashlib.sha256(json.dumps(vocab).encode()).hexdigest(),
            "data": sha256_file(split_path),
            "padding_side": backbone.tokenizer.padding_side,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@torch.no_grad()
def compute_features(
    model: Any,
    input_ids: list[list[int]],
    collator: PadCollator,
    mode: str,
    batch_size: int,
    device: torch.device,
) -> dict[str, torch.Tensor]:
    """Run the frozen backbone over length-sorted batches; results are returned in input order."""
    order = np.argsort([len(x) for x in input_ids], kind="stable")
    pooled: list[torch.Tensor | None] = [None] * len(input_ids)
    model.eval()
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = collator([{"input_ids": input_ids[i]} for i in idx])
        ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        states = model.backbone_states(ids, mask).float()
        if mode == "token":
            for row, i in enumerate(idx):
                pooled[i] = states[row][mask[row].bool()].half().cpu()
        else:
            out = pool(states, mask, mode).cpu()
            for row, i in enumerate(idx):
                pooled[i] = out[row]
    rows = [p for p in pooled if p is not None]
    if mode == "token":
        lengths = torch.tensor([r.shape[0] for r in rows])
        offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
        return {"states": torch.cat(rows), "offsets": offsets}
    return {"features": torch.stack(rows)}


def cached_features(
    model: Any,
    backbone: Any,
    input_ids: list[list[int]],
    collator: PadCollator,
    mode: str,
    max_length: int,
    split_path: Path,
    cache_dir: str | None,
    batch_size: int,
    device: torch.device,
) -> tuple[dict[str, torch.Tensor], bool]:
    """Features for one split from the cache, computing and storing them on a miss. Returns (features, hit)."""
    key = cache_key(backbone, mode, max_length, split_path)
    path = cache_root(cache_dir) / f"{key}.safetensors"
    if path.is_file():
        log.info("adapter feature cache hit: %s (%s)", split_path.name, path)
        return load_file(str(path)), True
    feats = compute_features(model, input_ids, collator, mode, batch_size, device)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in feats.items()}, str(tmp))
    log.info("adapter features computed and cached: %s -> %s", split_path.name, path)
    return feats, False


class FeatureDataset(torch.utils.data.Dataset):  # type: ignore[type-arg]
    def __init__(self, feats: dict[str, torch.Tensor], labels: np.ndarray) -> None:
        self.feats = feats
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if "offsets" in self.feats:
            a, b = int(self.feats["offsets"][i]), int(self.feats["offsets"][i + 1])
            x = self.feats["states"][a:b]
        else:
            x = self.feats["features"][i]
        return {"features": x, "labels": self.labels[i].item()}


class FeatureCollator:
    def __init__(self, label_dtype: torch.dtype) -> None:
        self.label_dtype = label_dtype

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        labels = torch.tensor([it["labels"] for it in items], dtype=self.label_dtype)
        xs = [it["features"] for it in items]
        if xs[0].dim() == 1:
            return {"features": torch.stack(xs).float(), "labels": labels}
        width = max(x.shape[0] for x in xs)
        out = torch.zeros(len(xs), width, xs[0].shape[1])
        mask = torch.zeros(len(xs), width, dtype=torch.long)
        for r, x in enumerate(xs):
            out[r, : x.shape[0]] = x.float()
            mask[r, : x.shape[0]] = 1
        return {"features": out, "attention_mask": mask, "labels": labels}
