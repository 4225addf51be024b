"""The tuning-method registry: full fine-tuning, LoRA, adapter tuning, and any plugin method.

A method is a :class:`TuningMethod` object registered by one call (``register_method(MyMethod())``) in its own
module under ``train/methods/``; a built-in's module is listed in ``_BUILTINS`` below (the "registry row"),
a third-party method is an entry point of the group ``genomefactory.methods``. Everything the trainer and the
run-directory writer need to know about a method is a member here with a default, so no code outside a method's
own file branches on its name.

A method's settings are the pydantic section ``method.<section>`` of the train config (``config_class``, e.g.
``LoraConfig`` for ``method: {name: lora, lora: {r: 8}}``); ``genomefactory.train.config`` builds ``MethodConfig``
from the methods registered when it is imported (built-ins and entry points), so the YAML layout, the CLI
``--help`` table and the web UI forms list every method's keys. A method registered later (in a running
process) is a valid ``method.name`` but can have no section of its own.

Nothing here imports torch, peft or transformers: a method imports its model code inside ``build``.
Shapes follow ``train/heads.py``: token states (batch, length, hidden), logits (batch, num_labels).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...config import StrictConfig
from ...plugins import Registry

if TYPE_CHECKING:
    from ...models.registry import Backbone
    from ..heads import TaskModel

__all__ = [
    "METHODS",
    "TuningMethod",
    "get_method",
    "method_names",
    "published_backbone",
    "register_method",
]

# the built-in methods, in the order the CLI, the web UI and error messages list them
_BUILTINS = (
    "genomefactory.train.methods.full",
    "genomefactory.train.methods.lora",
    "genomefactory.train.methods.adapter",
    "genomefactory.train.methods.qlora",
)


class TuningMethod(ABC):
    """How one fine-tuning method builds, trains and saves a task model. Subclasses set ``name`` (and
    ``config_class`` when the method has settings) and implement :meth:`build`; every other member has the
    default of a method that trains its whole model on token ids."""

    name: str = ""
    title: str = ""  # human name for logs and tables ("LoRA")
    # the pydantic section ``method.<section>`` this method reads (None: no settings of its own)
    config_class: type[StrictConfig] | None = None
    section: str = ""  # default: ``name``
    section_help: str = ""  # help text of the section in --help and the web UI
    # activation checkpointing of the backbone blocks (training.gradient_checkpointing) makes sense
    supports_checkpointing: bool = True
    checkpointing_note: str = ""  # why not, logged when the option is ignored

    @abstractmethod
    def build(self, backbone: Backbone, method_cfg: Any, task_type: str, num_labels: int) -> TaskModel:
        """The task model (backbone + pooling + head) with the method's parameters trainable."""

    def section_name(self) -> str:
        return self.section or self.name

    def settings(self, method_cfg: Any) -> Any:
        """This method's section of ``method_cfg`` (None when it has none)."""
        if self.config_class is None:
            return None
        found = getattr(method_cfg, self.section_name(), None)
        if found is None:
            raise RuntimeError(
                f"tuning method {self.name!r} was registered after genomefactory.train.config built "
                f"MethodConfig, so its section method.{self.section_name()} does not exist; register it "
                "through the entry point group genomefactory.methods (or import it before that module)"
            )
        return found

    def saves_full_backbone(self, method_cfg: Any, backbone: Backbone, model_cfg: Any) -> bool:
        """Whether ``model/`` stores every tensor (self-contained) rather than only the trainable ones, the
        backbone then being re-loaded from its published source. Default: every tensor (the backbone changed)."""
        return True

    def uses_feature_cache(self, method_cfg: Any) -> bool:
        """Train on frozen-backbone features computed once and cached (``train/features.py``)."""
        return False

    def feature_mode(self, method_cfg: Any, pooling: str) -> str:
        """What the feature cache stores: a pooling name (pooled features) or ``token`` (token states)."""
        return pooling

    def feature_cache_dir(self, method_cfg: Any) -> str | None:
        """Folder of the feature cache; None = the default (``$GENOMEFACTORY_CACHE`` or ~/.cache)."""
        return None

    def before_save(self, model: TaskModel, method_cfg: Any) -> dict[str, Any]:
        """Change the trained model in place before it is saved (LoRA: merge); returns entries for the saved
        model's ``genomefactory_model.json``."""
        return {}

    def rebuild_as(self, meta: dict[str, Any]) -> str:
        """The method whose ``build`` rebuilds a saved model (from its ``genomefactory_model.json``) before its
        weights are loaded; a merged LoRA model is a plain full model."""
        return self.name


def published_backbone(backbone: Backbone, model_cfg: Any) -> bool:
    """The backbone's weights came from a published checkpoint (re-loadable from ``backbone.source``)."""
    return backbone.source is not None and model_cfg.init == "pretrained"


class _MethodRegistry(Registry[TuningMethod]):
    """The shared registry mechanism, remembering registration order (built-ins first, as listed)."""

    def __init__(self, what: str, group: str, builtins: Iterable[str]) -> None:
        super().__init__(what, group, builtins)
        self._order: list[str] = []

    def register(
        self, obj: TuningMethod, name: str | None = None, aliases: Iterable[str] = ()
    ) -> TuningMethod:
        if not obj.name:
            raise TypeError(f"{type(obj).__name__} has no name; set the class attribute name")
        super().register(obj, name, aliases)
        primary = name or obj.name
        if primary not in self._order:
            self._order.append(primary)
        return obj

    def unregister(self, name: str) -> None:
        primary = self.get(name).name if name in self else None
        super().unregister(name)
        if primary in self._order:
            self._order.remove(primary)

    def names_in_order(self) -> list[str]:
        """Built-ins in the order of their modules in ``builtins``, then the others as registered."""
        self._ensure_loaded()
        modules = list(self.builtins)

        def rank(name: str) -> tuple[int, int]:
            module = type(self.get(name)).__module__
            return (modules.index(module) if module in modules else len(modules), self._order.index(name))

        return sorted(self._order, key=rank)


METHODS = _MethodRegistry("tuning method", "genomefactory.methods", _BUILTINS)


def register_method(method: TuningMethod, aliases: Iterable[str] = ()) -> TuningMethod:
    """Add a tuning method; its name becomes a valid ``method.name``."""
    return METHODS.register(method, aliases=aliases)


def get_method(name: str) -> TuningMethod:
    """The method called ``name``; an unknown name is an error naming the closest registered one."""
    return METHODS.get(name)


def method_names() -> list[str]:
    """Registered method names in registration order (built-ins first)."""
    return METHODS.names_in_order()
