"""Model family registry.

A *family* is one published architecture (DNABERT-2, HyenaDNA, ...). Everything that differs between families
lives in its own file under ``models/families/`` as a subclass of :class:`ModelFamily`, registered with
:func:`register`. No code outside ``models/families/`` branches on a family's name.

Contract of a family (what the trainer, inference engine and tests rely on):

- ``build(config) -> nn.Module``: the *full published model* (with its LM head when the checkpoint has one),
  randomly initialised, from a JSON-serialisable config dict in the family's own ``config.json`` format.
- ``base(model) -> nn.Module``: the headless backbone inside it. Calling it as
  ``base(input_ids=..., attention_mask=..., output_hidden_states=bool)`` returns an object with
  ``last_hidden_state`` of shape (batch, length, hidden) and, when asked, ``hidden_states`` (a tuple, one entry per
  layer plus the embeddings). Positions where ``attention_mask == 0`` may hold anything; poolers mask them.
- ``tokenizer(directory, config)``: a ``transformers`` ``PreTrainedTokenizerBase`` (fast tokenizer); from a
  checkpoint directory's files when given, otherwise built algorithmically (offline).
- ``load_state(model, directory)``: read the checkpoint weights (safetensors preferred, ``pytorch_model.bin``
  with ``weights_only=True``), map published names to ours, strict-load with an error listing missing/unexpected
  keys.
- ``save(model, config, directory)``: write ``config.json`` + ``model.safetensors`` that ``load_state`` reads back
  bit-exactly (shared tensors de-duplicated); families change the stored layout through ``checkpoint_state``.
- ``lora_targets``: module names; a plain name matches a module whose full name equals it or ends with
  ``.name``; a ``re:`` prefix makes it a regular expression searched in the full module name.
- ``encode(base, input_ids, attention_mask, output_hidden_states)``: how the trainer and the inference engine
  call the backbone (override to pass position ids, strand handling, ...).
- ``blocks(base) -> list[nn.Module]``: the repeated residual blocks of the headless backbone, in forward order
  (what activation checkpointing wraps, ``models/checkpointing.py``); the default ``[]`` means not supported.
- ``tiny_config()`` / ``published_config(variant)``: a tiny config of the real shape (tests, demo), and the
  published full-size config of each variant (parameter counts on the meta device, benchmarks).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from ..errors import UserError

__all__ = ["Backbone", "ModelFamily", "UnknownModelError", "all_families", "get_family", "register"]

Pooling = Literal["mean", "cls", "last", "max"]


class UnknownModelError(UserError, KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


@dataclass
class Backbone:
    """A loaded model: the full module, its tokenizer, and what is needed to rebuild or describe it."""

    family: ModelFamily
    model: nn.Module
    tokenizer: Any
    config: dict[str, Any]
    source: str | None = None  # hub id or local directory; None for random initialisation
    variant: str | None = None

    @property
    def base(self) -> nn.Module:
        return self.family.base(self.model)

    @property
    def hidden_size(self) -> int:
        return self.family.hidden_size(self.config)

    @property
    def max_tokens(self) -> int:
        return self.family.max_tokens(self.config)


@dataclass(frozen=True)
class ModelFamily(ABC):
    """Spec of one model family. Subclasses override the methods; the fields describe the family."""

    name: str
    kind: Literal["encoder", "decoder"]
    description: str
    variants: Mapping[str, str]  # Table 5 variant -> hub id
    default_variant: str
    lora_targets: tuple[str, ...]  # default LoRA target module names (paper appendix C)
    learning_rate: float = 3e-5
    pooling: Pooling = "mean"
    aliases: tuple[str, ...] = ()
    padding_side: Literal["left", "right"] = "right"
    # Names of linear layers that are the "input/output projections" for target_modules=all_in_and_out_proj.
    in_out_proj: tuple[str, ...] = ()
    extras: Mapping[str, Any] = field(default_factory=dict)

    # -- architecture ---------------------------------------------------------------------------------
    @abstractmethod
    def build(self, config: dict[str, Any]) -> nn.Module:
        """The full published model, randomly initialised, from a config dict."""

    @abstractmethod
    def base(self, model: nn.Module) -> nn.Module:
        """The headless backbone inside ``model``."""

    def encode(
        self,
        base: nn.Module,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        output_hidden_states: bool = False,
    ) -> Any:
        """Run the headless backbone; families override to add e.g. position ids for left padding."""
        return base(
            input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=output_hidden_states
        )

    def blocks(self, base: nn.Module) -> list[nn.Module]:
        """The repeated residual blocks of ``base`` (the headless backbone), in forward order; [] = unsupported."""
        return []

    def hidden_size(self, config: dict[str, Any]) -> int:
        return int(config["hidden_size"])

    def max_tokens(self, config: dict[str, Any]) -> int:
        return int(config.get("max_position_embeddings", 512))

    @abstractmethod
    def tiny_config(self) -> dict[str, Any]:
        """A tiny config of the real architecture (tests, demos)."""

    def published_config(self, variant: str) -> dict[str, Any]:
        raise ValueError(
            f"{self.name}: no published config for variant {variant!r}; load it from a checkpoint"
        )

    # -- tokenizer ------------------------------------------------------------------------------------
    @abstractmethod
    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        """The checkpoint's tokenizer (``directory``) or the family's algorithmic one (``None``)."""

    # -- checkpoints ----------------------------------------------------------------------------------
    def read_config(self, directory: Path) -> dict[str, Any]:
        """The checkpoint's ``config.json`` as our config dict (families may normalise it here)."""
        path = directory / "config.json"
        if not path.is_file():
            raise FileNotFoundError(f"{directory} has no config.json; is it a {self.name} checkpoint?")
        return dict(json.loads(path.read_text()))

    def load_state(self, model: nn.Module, directory: Path) -> None:
        from .loading import load_state_dict_file, strict_load

        state = load_state_dict_file(directory)
        strict_load(model, self.remap_state_dict(state, model), where=str(directory))

    def remap_state_dict(self, state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
        """Hook: published names -> our names (prefixes, tied weights filled, legacy names)."""
        return state

    def checkpoint_state(self, model: nn.Module, config: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Hook: our state dict -> the published checkpoint layout (prefixes, tied copies stored once)."""
        return model.state_dict()

    def save(self, model: nn.Module, config: dict[str, Any], directory: Path) -> None:
        """``config.json`` + ``model.safetensors`` (atomic writes) in the layout ``load_state`` reads back."""
        from ..io import atomic_write_text
        from .loading import save_state_dict

        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(directory / "config.json", json.dumps(config, indent=2, default=str) + "\n")
        save_state_dict(self.checkpoint_state(model, config), directory / "model.safetensors")


_REGISTRY: dict[str, ModelFamily] = {}


def _norm(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


def register(family: ModelFamily) -> ModelFamily:
    """Add a family; its name and aliases become valid ``model.family`` values."""
    for key in (family.name, *family.aliases):
        k = _norm(key)
        if k in _REGISTRY and _REGISTRY[k].name != family.name:
            raise ValueError(f"model family name {key!r} already registered by {_REGISTRY[k].name}")
        _REGISTRY[k] = family
    return family


def _ensure_loaded() -> None:
    # import by full name: the package attribute `families` is this module's function, and
    # `from . import families` would return it without importing the subpackage
    import importlib

    importlib.import_module(f"{__package__}.families")  # importing registers the built-in families


def all_families() -> list[ModelFamily]:
    """Registered families, each once, sorted by name."""
    _ensure_loaded()
    return sorted({f.name: f for f in _REGISTRY.values()}.values(), key=lambda f: f.name)


def get_family(name: str) -> ModelFamily:
    _ensure_loaded()
    fam = _REGISTRY.get(_norm(name))
    if fam is None:
        import difflib

        names = sorted({f.name for f in _REGISTRY.values()})
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UnknownModelError(f"unknown model family {name!r}.{hint} Registered: {', '.join(names)}")
    return fam
