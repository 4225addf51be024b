"""Loading models: hub id or local directory through the same code, safetensors first, strict key checks.

Nothing downloaded is executed: only ``config.json``, weights and tokenizer files are fetched, unless the user
sets ``trust_remote_code: true`` for the ``hf_auto`` family. With ``model.path`` and no ``model.family`` the
family is detected from the checkpoint's own files (:mod:`genomefactory.models.detect`); a family given
explicitly must agree with them.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..config import ConfigError
from ..errors import UserError, UserFileNotFoundError
from .config import DEFAULT_FAMILY, ModelConfig
from .detect import checked_family, run_meta_path
from .registry import Backbone, ModelFamily, get_family, resolve_variant
from .weights import load_state_dict_file, save_state_dict, strict_load

__all__ = [
    "HubFetchError",
    "ModelConfig",
    "default_device",
    "load_backbone",
    "load_state_dict_file",
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


class HubFetchError(UserError, OSError):
    """A model could not be fetched from the Hugging Face hub (network, authentication, unknown id)."""


def resolve_source(source: str, revision: str | None = None, allow_code: bool = False) -> Path:
    """A local directory as is; otherwise a hub id fetched (weights, config, tokenizer only) into the cache."""
    p = Path(source).expanduser()
    if p.is_dir():
        return p
    if p.exists() or source.startswith((".", "/", "~")):
        raise UserFileNotFoundError(f"model path {source!r} is not a directory")
    try:
        from huggingface_hub import snapshot_download

        patterns = [*_CHECKPOINT_FILES, "*.py"] if allow_code else _CHECKPOINT_FILES
        return Path(snapshot_download(source, revision=revision, allow_patterns=patterns))
    except Exception as exc:  # network, auth, missing repo: one clear line
        raise HubFetchError(
            f"could not fetch {source!r} from the Hugging Face hub ({type(exc).__name__}: {exc}). "
            "Check the id and your network, or pass a local checkpoint directory as model.path."
        ) from exc


def load_backbone(cfg: ModelConfig) -> Backbone:
    """Load (or randomly initialise) a family's model and tokenizer as described by ``cfg``."""
    backbone = _load_backbone(cfg)
    if cfg.attention_path != "padded":
        from .layers.varlen import set_attention_path

        set_attention_path(backbone.model, cfg.attention_path)
    return backbone


def _check_remote_code(cfg: ModelConfig, family: ModelFamily) -> None:
    if cfg.trust_remote_code and not family.supports_remote_code:
        raise ConfigError(
            f"trust_remote_code is only meaningful for the hf_auto family; {family.name} is implemented natively"
        )


def _load_backbone(cfg: ModelConfig) -> Backbone:
    if cfg.path is None or (cfg.family is not None and cfg.init == "tiny"):
        family = get_family(cfg.family or DEFAULT_FAMILY)
        _check_remote_code(cfg, family)
        if cfg.init == "tiny":
            config = {**family.tiny_config(), **cfg.tiny_overrides}
            model = family.build(config)
            return Backbone(family, model, family.tokenizer(None, config), config, None, "tiny")
        variant = resolve_variant(family, cfg.variant)
        if cfg.init == "random":
            config = family.published_config(variant)
            model = family.build(config)
            return Backbone(family, model, family.tokenizer(None, config), config, None, variant)
        source = family.variants[variant]
        if not source:
            raise ConfigError(
                f"model family {family.name!r} variant {variant!r} has no published checkpoint; set model.path "
                "(a hub id or a local checkpoint folder) or model.init: tiny"
            )
        # a family may pin the hub revision of its published variants (Evo-1 base: "1.1_fix"); model.revision wins
        directory = resolve_source(
            source, cfg.revision or family.hub_revision, allow_code=cfg.trust_remote_code
        )
        return family.load_pretrained(directory, source=source, variant=variant, cfg=cfg, random_init=False)
    if cfg.trust_remote_code and cfg.family is not None:
        _check_remote_code(cfg, get_family(cfg.family))  # before fetching any code
    directory = resolve_source(cfg.path, cfg.revision, allow_code=cfg.trust_remote_code)
    family = checked_family(directory, cfg.family, trust_remote_code=cfg.trust_remote_code)
    if run_meta_path(directory) is not None:
        raise ConfigError(
            f"{cfg.path} is a genomefactory training run ({family.name}), not a checkpoint folder: use it as "
            "model.path of `inference`, or give the checkpoint the run was trained from"
        )
    _check_remote_code(cfg, family)
    if cfg.init == "tiny":
        config = {**family.tiny_config(), **cfg.tiny_overrides}
        return Backbone(family, family.build(config), family.tokenizer(None, config), config, None, "tiny")
    return family.load_pretrained(
        directory, source=cfg.path, variant=None, cfg=cfg, random_init=cfg.init == "random"
    )


def check_device(device: str | None, key: str) -> None:
    """A named device exists here: one clear line instead of torch's traceback from the first forward pass."""
    if device is None:
        return
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ConfigError(f"{key} {device!r} is not a device; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise ConfigError(f"{key} {device!r}: no CUDA GPU is available here; use cpu")
        if dev.index is not None and dev.index >= n:
            raise ConfigError(f"{key} {device!r}: this machine has {n} GPU(s) (cuda:0..cuda:{n - 1})")
    elif dev.type not in ("cpu", "mps"):
        raise ConfigError(f"{key} {device!r}: use cpu, cuda or cuda:N")


def default_device() -> torch.device:
    if torch.cuda.is_available() and os.environ.get("GENOMEFACTORY_DEVICE", "") != "cpu":
        return torch.device("cuda")
    return torch.device("cpu")
