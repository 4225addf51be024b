"""Model family registry: the :class:`ModelFamily` contract, one registry, variant names. Imports no torch.

A *family* is one published architecture (DNABERT-2, HyenaDNA, ...). Everything that differs between families
lives in its own file under ``models/families/`` as a subclass of :class:`ModelFamily`, registered with
:func:`register`; its ``nn.Module`` code lives in ``models/modeling/<name>.py`` and is imported only when a model
is built, so listing families (``genomefactory-cli models``, config validation, ``--help``) never imports torch or
transformers. Third-party packages register families through the entry-point group ``genomefactory.models``
(see :mod:`genomefactory.plugins`). No code outside ``models/families/`` branches on a family's name: a capability
that needs a family-specific behaviour asks the family through a declared member below.

Tensor conventions of the contract: ``input_ids``/``attention_mask`` are (batch, length) with 1 = real token;
hidden states are (batch, length, hidden); DNA is upper-case IUPAC text before tokenization.
"""

from __future__ import annotations

from ..config import ConfigError
from ..plugins import Registry, UnknownNameError
from .family import Backbone, ModelFamily, Pooling, TokenizerKind

__all__ = [
    "FAMILIES",
    "Backbone",
    "ModelFamily",
    "Pooling",
    "TokenizerKind",
    "UnknownModelError",
    "all_families",
    "get_family",
    "register",
    "resolve_variant",
    "variant_names",
]


class UnknownModelError(UnknownNameError):
    """A ``model.family`` value that no registered family carries (a :class:`UserError` and a ``KeyError``)."""


FAMILIES: Registry[ModelFamily] = Registry(
    "model family", "genomefactory.models", builtins=(f"{__package__}.families",)
)


def register(family: ModelFamily) -> ModelFamily:
    """Add a family; its name and aliases become valid ``model.family`` values."""
    return FAMILIES.register(family, family.name, family.aliases)


def all_families() -> list[ModelFamily]:
    """Registered families, each once, sorted by name."""
    return FAMILIES.all()


def family_names() -> list[str]:
    return FAMILIES.names()


def variant_names(family: str | None) -> list[str]:
    """Variant keys of ``family`` (none for an unset or unknown family: the form then takes free text)."""
    if not family or family not in FAMILIES:
        return []
    return list(FAMILIES.get(family).variants)


def get_family(name: str) -> ModelFamily:
    """The family called ``name`` (or one of its aliases; case, ``-`` and ``_`` ignored)."""
    if name not in FAMILIES:
        raise UnknownModelError(FAMILIES.unknown_message(name))
    return FAMILIES.get(name)


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
            raise ConfigError(
                f"model.variant {v!r} of family {family.name!r} is ambiguous: it fits {', '.join(candidates)}; "
                "name one of them"
            )
    raise ConfigError(
        f"model family {family.name!r} has no variant {v!r}; variants: {', '.join(family.variants)}"
    )
