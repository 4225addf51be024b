"""Reading and writing weight files: (sharded) safetensors first, ``pytorch_model.bin`` with ``weights_only``.

A leaf module: it knows files and tensors, not families, so the registry and the loader both use it without
importing each other. Nothing read here is executed (no pickled code: ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from ..errors import UserError, UserFileNotFoundError

__all__ = ["CheckpointError", "load_state_dict_file", "save_state_dict", "strict_load", "weight_files"]


class CheckpointError(UserError, ValueError):
    """A checkpoint's files are inconsistent or do not fit the model (keys, shapes, shard index)."""


def weight_files(directory: Path) -> list[Path]:
    """The checkpoint's weight files: an index's shards, else the single file, else the numbered shards.

    Other weight-like files beside them (``adapter_model.safetensors``, optimizer dumps) are not read: only the
    names ``save_pretrained`` writes count, so a stray file cannot leak tensors into the model.
    """
    for stem, ext in (("model", "safetensors"), ("pytorch_model", "bin")):
        index = directory / f"{stem}.{ext}.index.json"
        if index.is_file():
            return _indexed_shards(index, directory)
        single = directory / f"{stem}.{ext}"
        if single.is_file():
            return [single]
        shards = sorted(directory.glob(f"{stem}-*-of-*.{ext}"))
        if shards:
            return shards
    return sorted(directory.glob("*.safetensors"))  # one odd name (e.g. a converted file): take what is there


def _indexed_shards(index: Path, directory: Path) -> list[Path]:
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
        names = sorted(set(weight_map.values()))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(
            f"{index}: not a weight index (expected a 'weight_map' of key -> file)"
        ) from exc
    absent = [n for n in names if not (directory / n).is_file()]
    if absent:
        raise UserFileNotFoundError(f"{index} lists shards that are not in {directory}: {', '.join(absent)}")
    return [directory / n for n in names]


def load_state_dict_file(directory: Path) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint directory: (sharded) safetensors, else (sharded) ``pytorch_model.bin``."""
    from safetensors.torch import load_file

    files = weight_files(directory)
    if not files:
        raise UserFileNotFoundError(
            f"no weights in {directory} (expected model.safetensors, pytorch_model.bin or their sharded forms "
            "with an index.json)"
        )
    state: dict[str, torch.Tensor] = {}
    for f in files:
        part = (
            load_file(str(f))
            if f.suffix == ".safetensors"
            else torch.load(f, map_location="cpu", weights_only=True)
        )
        clash = sorted(set(part) & set(state))
        if clash:
            raise CheckpointError(
                f"{f} repeats tensors already read from another file of {directory}: "
                f"{', '.join(clash[:5])}; keep one copy of each weight file"
            )
        state.update(part)
    return state


def _few(xs: list[str]) -> str:
    return ", ".join(xs[:8]) + (f" ... (+{len(xs) - 8} more)" if len(xs) > 8 else "")


def strict_load(model: nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """``load_state_dict(strict=True)`` with an error that lists missing/unexpected keys and shape mismatches."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if tuple(own[k].shape) != tuple(state[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys: {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_few(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches: {_few(shapes)}")
        raise CheckpointError(f"checkpoint {where} does not match the model: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


def save_state_dict(state: dict[str, torch.Tensor], path: Path) -> None:
    """safetensors file written atomically; tensors sharing storage are stored as separate copies."""
    from safetensors.torch import save_file

    from ..io import atomic_path

    out: dict[str, torch.Tensor] = {}
    ptrs: set[int] = set()
    for k, v in state.items():
        t = v.detach().contiguous()
        ptr = t.untyped_storage().data_ptr()
        if t.numel() and ptr in ptrs:  # safetensors refuses tensors that share memory: store a copy
            t = t.clone()
        elif t.numel():
            ptrs.add(ptr)
        out[k] = t
    with atomic_path(path) as tmp:
        save_file(out, str(tmp), metadata={"format": "pt"})
