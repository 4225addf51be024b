"""The :class:`ModelFamily` contract and the loaded :class:`Backbone`. Imports no torch at module level.

Shapes in the contract: ``input_ids``/``attention_mask`` (batch, length), 1 = real token; hidden states
(batch, length, hidden). DNA reaches tokenizers as upper-case IUPAC text.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import UserFileNotFoundError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .config import ModelConfig

__all__ = ["Backbone", "ModelFamily", "Pooling", "Sampler", "TokenizerKind", "class_refs"]

Pooling = Literal["mean", "cls", "last", "max"]
TokenizerKind = Literal["char", "kmer", "bpe", "other"]
Sampler = Callable[["torch.Tensor"], "torch.Tensor"]  # (batch, vocab) float logits -> (batch,) ids


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


def class_refs(config: Mapping[str, Any]) -> list[str]:
    """Class references a ``config.json`` names: ``architectures`` and every ``auto_map`` target
    (``"bert_layers.BertForMaskedLM"``; a tokenizer entry may be a ``[slow, fast]`` pair with ``null``)."""
    refs = [str(a) for a in config.get("architectures") or [] if a]
    auto_map = config.get("auto_map") or {}
    for value in auto_map.values() if isinstance(auto_map, Mapping) else []:
        refs.extend(str(v) for v in (value if isinstance(value, list | tuple) else [value]) if v)
    return refs


@dataclass(frozen=True)
class ModelFamily(ABC):
    """Spec of one model family. Subclasses override the methods; the fields describe the family.

    Fields (the first six are required):

    - ``name``, ``aliases``: valid ``model.family`` values; ``kind``: "encoder" or "decoder";
      ``variants``: Table 5 variant -> hub id; ``default_variant``; ``description`` (``genomefactory-cli models``).
    - ``lora_targets``: default LoRA target module names (paper appendix C): a plain name matches a module whose
      full name equals it or ends with ``.name``; a ``re:`` prefix makes it a regular expression searched in the
      full module name. ``in_out_proj``: the layers ``target_modules: all_in_and_out_proj`` means.
    - ``learning_rate``: default peak LR when fine-tuning published weights; ``learning_rate_from_scratch``: the
      default for ``init: random`` / ``tiny`` (:meth:`default_learning_rate`).
    - ``pooling``: the sequence pooling that suits the family; ``padding_side``: where its tokenizer pads.
    - ``padding_invariant``: a padded batch gives every sequence the hidden states it gets alone (at its real
      tokens). Every built-in family is; a family that is not is skipped by the padding-invariance test.
    - ``hub_revision``: hub revision pinned for the published variants (``model.revision`` wins; not used for a
      ``model.path``). ``supports_remote_code``: ``trust_remote_code: true`` is meaningful (hf_auto only).
    - ``tokenizer_kind``: how tokens map to bases: "char" (one token per base), "kmer" (non-overlapping
      ``kmer``-mers, leftovers single bases), "bpe" (variable-length pieces), "other" (unknown: ask the
      tokenizer's offsets). Variant scoring and attributions map token scores back to bases with it.
    - ``mask_token``: the token masked-LM scoring writes over a position, ``None`` when the family has no
      masked-LM objective (decoders; hf_auto, whose tokenizer may still name one).
    - ``checkpoint_model_types`` / ``checkpoint_classes``: what the default :meth:`claims` recognises in a
      checkpoint's ``config.json`` (``model_type`` values; substrings of ``architectures`` / ``auto_map``
      class references).

    Methods (what the trainer, inference engine, detection and tests rely on):

    - ``build(config) -> nn.Module``: the *full published model* (with its LM head when the checkpoint has one),
      randomly initialised, from a JSON-serialisable config dict in the family's own ``config.json`` format.
    - ``base(model) -> nn.Module``: the headless backbone inside it. Calling it as
      ``base(input_ids=..., attention_mask=..., output_hidden_states=bool)`` returns an object with
      ``last_hidden_state`` (batch, length, hidden) and, when asked, ``hidden_states`` (one entry per layer plus
      the embeddings). Positions where ``attention_mask == 0`` may hold anything; poolers mask them.
    - ``encode(base, input_ids, attention_mask, output_hidden_states)``: how the trainer and the inference engine
      call the backbone (override to pass position ids, strand handling, ...).
    - ``blocks(base)``: the repeated residual blocks in forward order (activation checkpointing); ``[]`` = not
      supported. ``block_types(base)``: their classes (FSDP auto-wrap policies). ``fp32_modules(base)``: the
      modules whose parameters must stay float32 under mixed precision (their own FSDP units); default none.
    - ``tokenizer(directory, config)``: a ``transformers`` fast tokenizer, from a checkpoint directory's files
      when given, otherwise built algorithmically (offline).
    - ``read_config`` / ``load_state`` / ``remap_state_dict`` / ``checkpoint_state`` / ``save``: checkpoint I/O
      (safetensors first, strict key checks, the published layout written back bit-exactly).
    - ``load_pretrained(directory, ...)``: a whole checkpoint directory -> :class:`Backbone` (default: the
      steps above; hf_auto goes through transformers' Auto classes).
    - ``is_decoder(config)``: can generate (default ``kind == "decoder"``). ``generate(model, ids, n, sampler)``:
      the family's own decoding loop, or ``None`` = use ``model.generate`` (transformers).
    - ``rc_equivariant(config)``: ``f(RC(x)) = RC(f(x))`` by construction (Caduceus PS).
    - ``claims(config, files)``: how sure the family is that a checkpoint folder is its own (0 = not its own),
      used by :func:`genomefactory.models.detect.detect_family`.
    - ``tiny_config()`` / ``published_config(variant)``: a tiny config of the real shape (tests, demo), and the
      published full-size config of each variant (parameter counts on the meta device, benchmarks).
    """

    name: str
    kind: Literal["encoder", "decoder"]
    description: str
    variants: Mapping[str, str]
    default_variant: str
    lora_targets: tuple[str, ...]
    learning_rate: float = 3e-5
    learning_rate_from_scratch: float = 1e-3
    pooling: Pooling = "mean"
    aliases: tuple[str, ...] = ()
    padding_side: Literal["left", "right"] = "right"
    in_out_proj: tuple[str, ...] = ()
    padding_invariant: bool = True
    hub_revision: str | None = None
    supports_remote_code: bool = False
    tokenizer_kind: TokenizerKind = "other"
    kmer: int | None = None
    mask_token: str | None = None
    checkpoint_model_types: tuple[str, ...] = ()
    checkpoint_classes: tuple[str, ...] = ()

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

    def block_types(self, base: nn.Module) -> tuple[type[nn.Module], ...]:
        """The classes of :meth:`blocks`, each once in order of appearance (what an FSDP wrap policy wraps).

        Call it before activation checkpointing, which swaps each block's class for a subclass."""
        return tuple(dict.fromkeys(type(b) for b in self.blocks(base)))

    def fp32_modules(self, base: nn.Module) -> list[nn.Module]:
        """Modules of ``base`` whose parameters are gathered and used in float32 whatever the training precision
        (sharded mixed-precision training makes each an FSDP unit with a float32 policy); [] = none."""
        return []

    def hidden_size(self, config: dict[str, Any]) -> int:
        return int(config["hidden_size"])

    def max_tokens(self, config: dict[str, Any]) -> int:
        return int(config.get("max_position_embeddings", 512))

    def is_decoder(self, config: dict[str, Any]) -> bool:
        """Whether the model of ``config`` is a causal LM that can generate."""
        return self.kind == "decoder"

    def rc_equivariant(self, config: dict[str, Any]) -> bool:
        """Whether outputs are reverse-complement equivariant by construction (no RC averaging needed)."""
        return False

    def default_learning_rate(self, init: str) -> float:
        """Default peak LR: ``learning_rate`` for published weights, ``learning_rate_from_scratch`` otherwise."""
        return self.learning_rate if init == "pretrained" else self.learning_rate_from_scratch

    @abstractmethod
    def tiny_config(self) -> dict[str, Any]:
        """A tiny config of the real architecture (tests, demos)."""

    def published_config(self, variant: str) -> dict[str, Any]:
        from ..config import ConfigError

        raise ConfigError(
            f"{self.name}: no published config for variant {variant!r}; load it from a checkpoint (model.path)"
        )

    def _check_variant(self, variant: str, known: Iterable[str]) -> None:
        """The one error for ``published_config`` of a variant the family does not have."""
        from ..config import ConfigError

        names = list(known)
        if variant not in names:
            raise ConfigError(f"unknown {self.name} variant {variant!r}; choose from {', '.join(names)}")

    # -- tokenizer ------------------------------------------------------------------------------------
    @abstractmethod
    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        """The checkpoint's tokenizer (``directory``) or the family's algorithmic one (``None``)."""

    # -- generation -----------------------------------------------------------------------------------
    def generate(
        self, model: nn.Module, input_ids: torch.Tensor, max_new_tokens: int, sampler: Sampler | None = None
    ) -> torch.Tensor | None:
        """The family's own decoding: (batch, L) unpadded prompts -> (batch, L + max_new_tokens) ids, each new
        id drawn by ``sampler`` from (batch, vocab) float logits (default greedy). ``None`` (the default) means
        the family has no loop of its own: callers use ``model.generate`` from transformers."""
        return None

    # -- checkpoints ----------------------------------------------------------------------------------
    def claims(self, config: Mapping[str, Any], files: set[str]) -> int:
        """How specifically a checkpoint folder (its ``config.json`` dict and file names) is this family's:
        0 = not this family; larger = more specific. Default: a ``checkpoint_model_types`` match or a
        ``checkpoint_classes`` substring in the config's class references scores 10."""
        if config.get("model_type") in self.checkpoint_model_types:
            return 10
        refs = class_refs(config)
        return 10 if any(marker in ref for marker in self.checkpoint_classes for ref in refs) else 0

    def read_config(self, directory: Path) -> dict[str, Any]:
        """The checkpoint's ``config.json`` as our config dict (families may normalise it here)."""
        path = directory / "config.json"
        if not path.is_file():
            raise UserFileNotFoundError(f"{directory} has no config.json; is it a {self.name} checkpoint?")
        return dict(json.loads(path.read_text()))

    def load_state(self, model: nn.Module, directory: Path) -> None:
        from .weights import load_state_dict_file, strict_load

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
        from .weights import save_state_dict

        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(directory / "config.json", json.dumps(config, indent=2, default=str) + "\n")
        save_state_dict(self.checkpoint_state(model, config), directory / "model.safetensors")

    def load_pretrained(
        self,
        directory: Path,
        *,
        source: str,
        variant: str | None,
        cfg: ModelConfig,
        random_init: bool,
    ) -> Backbone:
        """A checkpoint directory as a :class:`Backbone`: its config, the model, its weights (unless
        ``random_init``: the architecture only) and its tokenizer."""
        config = self.read_config(directory)
        model = self.build(config)
        if not random_init:
            self.load_state(model, directory)
        return Backbone(self, model, self.tokenizer(directory, config), config, source, variant)
