"""Loading models: hub id or local directory through the same code, safetensors first, strict key checks.

Nothing downloaded is executed: only ``config.json``, weights and tokenizer files are fetched, unless the user
sets ``trust_remote_code: true`` for the ``hf_auto`` family.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from ..config import StrictConfig
from ..errors import UserError
from .registry import Backbone, ModelFamily, get_family

__all__ = [
    "HubFetchError",
    "ModelConfig",
    "load_backbone",
    "resolve_source",
    "resolve_variant",
    "save_state_dict",
    "strict_load",
]

_CHECKPOINT_FILES = [
    "config.json",
    "*.safetensors",
    "*.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "pytorch_model-*.bin",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "generation_config.json",
]


class ModelConfig(StrictConfig):
    """Which model to use and how to initialise it."""

    family: str = Field(
        "nucleotide_transformer", description="Model family (see `genomefactory-cli models`)."
    )
    variant: str | None = Field(
        None, description="Variant of the family (paper Table 5); default: the family's."
    )
    path: str | None = Field(
        None,
        description="Hub id or local checkpoint directory; overrides `variant`. A genomefactory run "
        "directory is also accepted for inference.",
    )
    init: Literal["pretrained", "random", "tiny"] = Field(
        "pretrained",
        description="pretrained: load published weights; random: full-size random init; "
        "tiny: a tiny random model of the same architecture (tests, demos, CPU smoke runs).",
    )
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit).")
    trust_remote_code: bool = Field(
        False, description="Allow running model code downloaded from the hub (hf_auto only). Off by default."
    )
    attention_path: Literal["padded", "packed"] = Field(
        "padded",
        description="packed: padding-free attention on real tokens only (DNABERT-2, NT v1/v2; flash-attn "
        "varlen on GPU when installed). Same results as padded, faster when lengths vary.",
    )
    tiny_overrides: dict[str, Any] = Field(
        default_factory=dict, description="Config fields to override in the tiny config (init: tiny)."
    )


def resolve_source(source: str, revision: str | None = None, allow_code: bool = False) -> Path:
    """A local directory as is; otherwise a hub id fetched (weights, config, tokenizer only) into the cache."""
    p = Path(source).expanduser()
    if p.is_dir():
        return p
    if p.exists() or source.startswith((".", "/", "~")):
        raise FileNotFoundError(f"model path {source!r} is not a directory")
    try:
        from huggingface_hub import snapshot_download

        patterns = [*_CHECKPOINT_FILES, "*.py"] if allow_code else _CHECKPOINT_FILES
        return Path(snapshot_download(source, revision=revision, allow_patterns=patterns))
    except Exception as exc:  # network, auth, missing repo: one clear line
        raise HubFetchError(
            f"could not fetch {source!r} from the Hugging Face hub ({type(exc).__name__}: {exc}). "
            "Check the id and your network, or pass a local checkpoint directory as model.path."
        ) from exc


def _weight_files(directory: Path) -> list[Path]:
    """The checkpoint's weight files: an index's shards, else the single file, else the numbered shards.

    Other weight-like files beside them (``adapter_model.safetensors``, optimizer dumps) are not read: only the
    names ``save_pretrained`` writes count, so a stray file cannot leak tensors into the model.
    """
    for stem, ext in (("model", "safetensors"), ("pytorch_model", "bin")):
        index = directory / f"{stem}.{ext}.index.json"
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
                names = sorted(set(weight_map.values()))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(
                    f"{index}: not a weight index (expected a 'weight_map' of key -> file)"
                ) from exc
            absent = [n for n in names if not (directory / n).is_file()]
            if absent:
                raise FileNotFoundError(
                    f"{index} lists shards that are not in {directory}: {', '.join(absent)}"
                )
            return [directory / n for n in names]
        single = directory / f"{stem}.{ext}"
        if single.is_file():
            return [single]
        shards = sorted(directory.glob(f"{stem}-*-of-*.{ext}"))
        if shards:
            return shards
    return sorted(directory.glob("*.safetensors"))  # one odd name (e.g. a converted file): take what is there


class HubFetchError(UserError, OSError):
    """A model could not be fetched from the Hugging Face hub (network, authentication, unknown id)."""


def load_state_dict_file(directory: Path) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint directory: (sharded) safetensors, else (sharded) ``pytorch_model.bin``."""
    from safetensors.torch import load_file

    files = _weight_files(directory)
    if not files:
        raise FileNotFoundError(
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
            raise ValueError(
                f"{f} repeats tensors already read from another file of {directory}: "
                f"{', '.join(clash[:5])}; keep one copy of each weight file"
            )
        state.update(part)
    return state


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

        def _few(xs: list[str]) -> str:
            return ", ".join(xs[:8]) + (f" ... (+{len(xs) - 8} more)" if len(xs) > 8 else "")

        parts = []
        if missing:
            parts.append(f"missing keys: {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_few(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches: {_few(shapes)}")
        raise ValueError(f"checkpoint {where} does not match the model: " + "; ".join(parts))
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


def _pick_variant(family: ModelFamily, variant: str | None) -> str:
    return resolve_variant(family, variant)


def resolve_variant(family: ModelFamily, variant: str | None) -> str:
    """The family's variant key for ``variant``; the paper's Table 5 spellings ("160K", "50M") are accepted.

    Exact key first, then the same key in any case, then the one variant whose name ends with ``-<variant>`` or
    starts with ``<variant>-`` (HyenaDNA "160K" -> "medium-160k"). A name that fits several variants (Caduceus
    "131K": PH or PS) is an error listing them.
    """
    v = variant or family.default_variant
    if v in family.variants:
        return v
    low = v.strip().lower()
    for candidates in (
        [k for k in family.variants if k.lower() == low],
        [k for k in family.variants if k.lower().endswith("-" + low) or k.lower().startswith(low + "-")],
    ):
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            raise ValueError(
                f"model.variant {v!r} of family {family.name!r} is ambiguous: it fits {', '.join(candidates)}; "
                "name one of them"
            )
    raise ValueError(
        f"model family {family.name!r} has no variant {v!r}; variants: {', '.join(family.variants)}"
    )


def load_backbone(cfg: ModelConfig) -> Backbone:
    """Load (or randomly initialise) a family's model and tokenizer as described by ``cfg``."""
    backbone = _load_backbone(cfg)
    if cfg.attention_path != "padded":
        from .layers.varlen import set_attention_path

        set_attention_path(backbone.model, cfg.attention_path)
    return backbone


def _load_backbone(cfg: ModelConfig) -> Backbone:
    family = get_family(cfg.family)
    if cfg.trust_remote_code and not family.extras.get("supports_remote_code", False):
        raise ValueError(
            f"trust_remote_code is only meaningful for the hf_auto family; {family.name} is implemented natively"
        )
    if cfg.init == "tiny":
        config = {**family.tiny_config(), **cfg.tiny_overrides}
        model = family.build(config)
        return Backbone(family, model, family.tokenizer(None, config), config, None, "tiny")
    if cfg.init == "random" and cfg.path is None:
        chosen = _pick_variant(family, cfg.variant)
        config = family.published_config(chosen)
        model = family.build(config)
        return Backbone(family, model, family.tokenizer(None, config), config, None, chosen)
    variant: str | None = None if cfg.path else _pick_variant(family, cfg.variant)
    source = cfg.path or family.variants[variant or ""]
    # a family may pin the hub revision of its published variants (Evo-1 base: "1.1_fix"); model.revision wins
    revision: str | None = cfg.revision or (None if cfg.path else family.extras.get("revision"))
    directory = resolve_source(source, revision, allow_code=cfg.trust_remote_code)
    load = getattr(family, "load_pretrained", None)
    if load is not None:
        return load(directory, source=source, variant=variant, cfg=cfg, random_init=cfg.init == "random")  # type: ignore[no-any-return]
    config = family.read_config(directory)
    model = family.build(config)
    if cfg.init == "pretrained":
        family.load_state(model, directory)
    return Backbone(family, model, family.tokenizer(directory, config), config, source, variant)


def default_device() -> torch.device:
    if torch.cuda.is_available() and os.environ.get("GENOMEFACTORY_DEVICE", "") != "cpu":
        return torch.device("cuda")
    return torch.device("cpu")
