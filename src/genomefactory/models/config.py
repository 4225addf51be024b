"""``model:`` section of every command's config. Imports no torch (``--help`` and config validation stay fast).

Validated when the config is read, without touching any file: ``model.family`` must be a registered family
(an unknown name gets the closest one), ``model.variant`` must name one of that family's variants (the paper's
Table 5 spellings such as "160K" are accepted). Which family a ``model.path`` folder holds is decided when it is
loaded (:func:`genomefactory.models.detect.detect_family`), since that needs the folder's files.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ..config import ChoicesFrom, InPath, StrictConfig
from ..errors import UserError
from .registry import FAMILIES, get_family, resolve_variant

__all__ = ["DEFAULT_FAMILY", "ModelConfig"]

DEFAULT_FAMILY = "nucleotide_transformer"


def _invalid(kind: str, message: str) -> PydanticCustomError:
    # a custom error keeps the message as written (a plain ValueError would be prefixed "Value error, ")
    return PydanticCustomError(kind, "{message}", {"message": message})


class ModelConfig(StrictConfig):
    """Which model to use and how to initialise it."""

    family: Annotated[str | None, ChoicesFrom("genomefactory.models.registry:family_names")] = Field(
        None,
        description="Model family (see `genomefactory-cli models`). Default: the family of model.path's "
        f"checkpoint (read from its config.json) when a path is given, else {DEFAULT_FAMILY}.",
    )
    variant: Annotated[
        str | None, ChoicesFrom("genomefactory.models.registry:variant_names", depends_on="family")
    ] = Field(None, description="Variant of the family (paper Table 5); default: the family's.")
    path: InPath | None = Field(
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
        "varlen on GPU when installed). Same results as padded. It pays where batches carry padding: on CPU "
        "about 1.3x over padded for unsorted mixed-length batches, but nothing over length-grouped batches "
        "(grouping already removes the padding, and CPU has no varlen kernel: each layer scatters q/k/v back "
        "into padded blocks for attention and gathers them again, a few % slower).",
    )
    tiny_overrides: dict[str, Any] = Field(
        default_factory=dict, description="Config fields to override in the tiny config (init: tiny)."
    )

    @field_validator("family")
    @classmethod
    def _registered_family(cls, value: str | None) -> str | None:
        if value is not None and value not in FAMILIES:
            raise _invalid("unknown_family", FAMILIES.unknown_message(value))
        return value

    @field_validator("variant")
    @classmethod
    def _known_variant(cls, value: str | None, info: ValidationInfo) -> str | None:
        family = info.data.get("family")
        if value is None or family is None:
            return value  # no family yet (detected from model.path at load time) or family already invalid
        try:
            resolve_variant(get_family(family), value)
        except UserError as exc:
            raise _invalid("unknown_variant", str(exc)) from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _default_family(cls, data: Any) -> Any:
        # no family and no path: what every config without a model section has always meant
        if isinstance(data, dict) and data.get("family") is None and data.get("path") is None:
            data = {**data, "family": DEFAULT_FAMILY}
        return data
