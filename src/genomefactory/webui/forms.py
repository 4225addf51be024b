"""Forms generated from the command config classes (no Gradio here, so this is testable on its own).

Every leaf field of a config class becomes one :class:`FieldSpec` (dotted key, widget kind, default, choices,
help = the field's description). Nested configs are sections. A field or section whose name is one of the
choices of a sibling ``Literal`` field (``method.lora`` beside ``method.name``), or starts with ``<choice>_``
(``cnn_channels`` beside ``kind``), is shown only while that choice is selected.

Path confinement: every string of a path-like field (typed ``Path``, or named ``path``, ``input``, ``output``,
``*_dir``, ``*_file``, ``embeddings``, ...) anywhere in the validated config must lie inside the workspace; keys
of untyped mappings (a benchmark model's ``overrides``) are judged by the same names. Relative paths are
relative to the workspace (commands run there). The check is lexical (``..`` is resolved, symbolic links are not
followed): a link the workspace's owner placed inside it is how a shared dataset is exposed.
"""

from __future__ import annotations

import json
import os
import shlex
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from ..errors import DataError, UserError

__all__ = [
    "FieldSpec",
    "PathError",
    "build_data",
    "check_paths",
    "cli_line",
    "form_fields",
    "to_widget_value",
]

UNSET = "(default)"
PATH_NAMES = {
    "path",
    "paths",
    "input",
    "inputs",
    "output",
    "output_dir",
    "cache_dir",
    "genome",
    "genomes",
    "published_scores",
    "efficiency_csv",
    "prompt_file",
    "species_file",
    "workspace",
    "annotation",
    "signal",
    "embeddings",
    "sae_checkpoint",
    "checkpoint",
}
PATH_SUFFIXES = ("_dir", "_path", "_file", "_csv", "_fasta", "_checkpoint")


class PathError(UserError, ValueError):
    """A path outside the workspace."""


@dataclass
class FieldSpec:
    key: str
    kind: Literal["bool", "choice", "int", "float", "text", "yaml"]
    default: Any
    required: bool
    optional: bool
    help: str
    choices: list[str] = field(default_factory=list)
    show_if: list[tuple[str, str]] = field(default_factory=list)  # (controller key, value): all must hold
    section: str = ""


def _unwrap(ann: Any) -> tuple[Any, bool]:
    """(annotation without None, whether None is allowed)."""
    origin = typing.get_origin(ann)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) == 1:
            return args[0], len(args) < len(typing.get_args(ann))
        return ann, type(None) in typing.get_args(ann)
    return ann, False


def _is_model(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def _kind(ann: Any) -> tuple[str, list[str]]:
    if typing.get_origin(ann) is Literal:
        return "choice", [str(a) for a in typing.get_args(ann)]
    if ann is bool:
        return "bool", []
    if ann is int:
        return "int", []
    if ann is float:
        return "float", []
    if ann in (str, Path):
        return "text", []
    return "yaml", []


def _controls(cls: type[BaseModel]) -> dict[str, tuple[str, str]]:
    """Sibling name -> (controller field, choice) for the naming rule of the module docstring."""
    out: dict[str, tuple[str, str]] = {}
    for ctl, f in cls.model_fields.items():
        ann, _ = _unwrap(f.annotation)
        if typing.get_origin(ann) is not Literal:
            continue
        choices = [str(a) for a in typing.get_args(ann)]
        for name in cls.model_fields:
            if name == ctl or name in out:
                continue
            if name in choices:
                out[name] = (ctl, name)
            elif name.split("_")[0] in choices and "_" in name:
                out[name] = (ctl, name.split("_")[0])
    return out


def form_fields(
    cls: type[BaseModel], prefix: str = "", show_if: list[tuple[str, str]] | None = None
) -> list[FieldSpec]:
    """Leaf fields of ``cls`` in declaration order, nested configs flattened to dotted keys."""
    specs: list[FieldSpec] = []
    controls = _controls(cls)
    for name, f in cls.model_fields.items():
        ann, optional = _unwrap(f.annotation)
        cond = list(show_if or [])
        if name in controls:
            ctl, value = controls[name]
            cond.append((f"{prefix}{ctl}", value))
        if _is_model(ann):
            specs.extend(form_fields(ann, f"{prefix}{name}.", cond))
            continue
        kind, choices = _kind(ann)
        default = None if f.is_required() else to_jsonable_python(f.get_default(call_default_factory=True))
        specs.append(
            FieldSpec(
                f"{prefix}{name}",
                kind,  # type: ignore[arg-type]
                default,
                f.is_required(),
                optional,
                f.description or "",
                choices,
                cond,
                prefix.rstrip("."),
            )
        )
    return specs


def to_widget_value(spec: FieldSpec) -> Any:
    """The initial widget value of a field (its default)."""
    d = spec.default
    if spec.kind == "choice":
        return UNSET if d is None else str(d)
    if spec.kind == "yaml":
        return "" if d is None else yaml.safe_dump(d, default_flow_style=True, width=10_000).strip()
    if spec.kind == "text":
        return "" if d is None else str(d)
    return d


def _from_widget(spec: FieldSpec, value: Any) -> Any:
    if spec.kind == "bool":
        return bool(value)
    if spec.kind == "choice":
        return None if value in (None, UNSET) else value
    if spec.kind in ("int", "float"):
        if value is None or str(value).strip() == "":
            return None
        try:
            number = float(value)
        except ValueError:
            raise DataError(f"{spec.key}: {value!r} is not a number") from None
        return int(number) if spec.kind == "int" and number.is_integer() else number
    text = "" if value is None else str(value).strip()
    if spec.kind == "text":
        return None if text == "" and (spec.optional or spec.required) else text
    if text == "":
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{spec.key}: {text!r} is not valid YAML ({exc})") from None


def build_data(specs: list[FieldSpec], values: list[Any]) -> dict[str, Any]:
    """Nested config data holding the required fields and every value that differs from its default."""
    data: dict[str, Any] = {}
    for spec, raw in zip(specs, values, strict=True):
        value = _from_widget(spec, raw)
        if not spec.required and (value == spec.default or (value is None and not spec.optional)):
            continue
        if spec.required and value is None:
            continue  # left for the validator to name as missing
        node = data
        parts = spec.key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return data


def _overrides(data: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.extend(_overrides(value, f"{prefix}{key}."))
            continue
        if value is None:
            text = ""
        elif isinstance(value, str) and yaml.safe_load(value) == value and value.strip() == value:
            text = value
        else:  # JSON is YAML: the CLI parses it back to the same value
            text = json.dumps(value)
        out.append(shlex.quote(f"{prefix}{key}={text}"))
    return out


def cli_line(command: str, data: dict[str, Any]) -> str:
    """The self-contained command line equal to ``data`` (``key=value`` overrides, parsed by the CLI as YAML)."""
    return " ".join(["genomefactory-cli", command, *_overrides(data)])


def _path_like(name: str, ann: Any) -> bool:
    return name in PATH_NAMES or name.endswith(PATH_SUFFIXES) or "Path" in str(ann)


def _inside(value: str, workspace: Path) -> bool:
    ws = Path(os.path.abspath(workspace))
    p = Path(os.path.expanduser(value))
    full = Path(os.path.normpath(p if p.is_absolute() else ws / p))
    return full == ws or ws in full.parents


def _strings(value: Any) -> list[str]:
    if isinstance(value, (str, Path)):
        return [str(value)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def _check_value(key: str, value: Any, workspace: Path) -> None:
    for s in _strings(value):
        if s and not _inside(s, workspace):
            raise PathError(
                f"{key}: {s!r} is outside the workspace {os.path.abspath(workspace)}; "
                "use a path inside it (relative paths are relative to it)"
            )


def _check_free_dict(data: Any, workspace: Path, prefix: str) -> None:
    """Untyped mappings (a benchmark model's ``overrides``) hold config keys too: judge them by name."""
    if isinstance(data, dict):
        for k, v in data.items():
            if _path_like(str(k), None):
                _check_value(f"{prefix}{k}", v, workspace)
            _check_free_dict(v, workspace, f"{prefix}{k}.")
    elif isinstance(data, (list, tuple)):
        for i, v in enumerate(data):
            _check_free_dict(v, workspace, f"{prefix.rstrip('.')}[{i}].")


def check_paths(cfg: BaseModel, workspace: Path, prefix: str = "") -> None:
    """Raise :class:`PathError` naming the first path-like value outside ``workspace``."""
    for name, f in type(cfg).model_fields.items():
        value = getattr(cfg, name)
        key = f"{prefix}{name}"
        items = value if isinstance(value, (list, tuple)) else [value]
        for i, item in enumerate(items):
            if isinstance(item, BaseModel):
                check_paths(
                    item, workspace, f"{key}[{i}]." if isinstance(value, (list, tuple)) else f"{key}."
                )
        if value is None:
            continue
        if _path_like(name, f.annotation):
            _check_value(key, value, workspace)
        elif isinstance(value, dict):
            _check_free_dict(value, workspace, f"{key}.")
