"""Model Loader: registry of model families, loading, tokenizers."""

from .loading import ModelConfig, load_backbone
from .registry import Backbone, ModelFamily, all_families, get_family, register

__all__ = [
    "Backbone",
    "ModelConfig",
    "ModelFamily",
    "all_families",
    "get_family",
    "load_backbone",
    "register",
]
