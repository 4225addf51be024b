"""Model Loader: registry of model families, loading, tokenizers.

Importing this package (or ``.registry``, ``.config``, ``.detect`` and the family specs) does not import torch:
the names that need it are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import ModelConfig
    from .detect import detect_family
    from .loading import load_backbone
    from .registry import Backbone, ModelFamily, all_families, get_family, register

__all__ = [
    "Backbone",
    "ModelConfig",
    "ModelFamily",
    "all_families",
    "detect_family",
    "get_family",
    "load_backbone",
    "register",
]

_WHERE = {
    "Backbone": "registry",
    "ModelFamily": "registry",
    "all_families": "registry",
    "get_family": "registry",
    "register": "registry",
    "ModelConfig": "config",
    "detect_family": "detect",
    "load_backbone": "loading",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
