"""Forms generated from the command config classes (no Gradio here, so this is testable on its own).

Every leaf field of a config class becomes one :class:`FieldSpec` (dotted key, widget kind, default, choices,
help = the field's description). Nested configs are sections. A field or section whose name is one of the
choices of a sibling ``Literal`` field (``method.lora`` beside ``method.name``), or starts with ``<choice>_``
(``cnn_channels`` beside ``kind``), is shown only while that choice is selected.

Path confinement: every string of a field declared path-valued on its config class (``InPath`` / ``OutPath``,
see :class:`genomefactory.config.PathRole`) anywhere in the validated config must lie inside the workspace;
keys of untyped mappings (a benchmark model's ``overrides``) are judged by the names of the declared path fields.
Relative paths are relative to the workspace (commands run there). An input may be a symbolic link the
workspace's owner placed inside it (how a shared dataset is exposed): it is checked lexically. An output is
checked on its real path (links resolved): nothing is written outside the workspace through a link, nor into a
linked dataset whose real folder lies elsewhere.

Field lengths are bounded (:data:`MAX_FIELD_CHARS`): a pasted 100,000-character value is refused naming the key.
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

from ..config import ChoicesFrom, Secret, StrictConfig, path_strings
from ..errors import DataError, UserError

__all__ = [
    "FieldSpec",
    "PathError",
    "build_data",
    "check_paths",
    "cli_line",
    "declared_path_keys",
    "form_fields",
    "registry_choices",
    "secrets_of",
    "to_widget_value",
]

UNSET = "(default)"
MAX_FIELD_CHARS = (
    4096  # a path, a YAML list of suites or models: far below this; a pasted file is not a value
)
UNTYPED_PATH_SUFFIXES = ("_dir", "_path", "_file", "_csv", "_fasta", "_checkpoint")


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
    path: str | None = None  # "input" / "output" for a field declared path-valued
    choices_from: ChoicesFrom | None = None  # registry names offered for a free-text field
    secret: str | None = None  # environment variable that carries the value instead of the YAML


def _unwrap(ann: Any) -> tuple[Any, bool]:
    """(annotation without None and without ``Annotated`` markers, whether None is allowed)."""
    if typing.get_origin(ann) is typing.Annotated:
        return _unwrap(ann.__origin__)
    origin = typing.get_origin(ann)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])[0], len(args) < len(typing.get_args(ann))
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
                path_role(cls, name),
                next((m for m in f.metadata if isinstance(m, ChoicesFrom)), None),
                next((m.env for m in f.metadata if isinstance(m, Secret)), None),
            )
        )
    return specs


def registry_choices(spec: FieldSpec, depends_value: Any = None) -> list[str]:
    """The names a :class:`ChoicesFrom` field offers (for a dependent field: given its sibling's value)."""
    if spec.choices_from is None:
        return []
    from ..commands import load_ref

    fn = load_ref(spec.choices_from.ref)
    if spec.choices_from.depends_on is None:
        return [str(n) for n in fn()]
    value = None if depends_value in (None, "", UNSET) else depends_value
    return [str(n) for n in fn(value)]


def declared_path_keys(cls: type[BaseModel]) -> dict[str, str]:
    """Dotted form key -> role of every leaf field declared path-valued."""
    return {s.key: s.path for s in form_fields(cls) if s.path is not None}


def to_widget_value(spec: FieldSpec) -> Any:
    """The initial widget value of a field (its default)."""
    d = spec.default
    if spec.kind == "choice":
        return UNSET if d is None else str(d)
    if spec.kind == "yaml":
        return "" if d is None else yaml.safe_dump(d, default_flow_style=True, width=10_000).strip()
    if spec.kind == "text":
        return (UNSET if spec.choices_from is not None else "") if d is None else str(d)
    if spec.kind in ("int", "float") and spec.optional:  # shown in a text box (it may be empty): text
        return "" if d is None else str(d)
    return d


def _from_widget(spec: FieldSpec, value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
        raise DataError(
            f"{spec.key}: the value is {len(value):,} characters long (at most {MAX_FIELD_CHARS:,}); "
            "put long content in a file inside the workspace and give its path"
        )
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
    text = "" if value is None or (spec.choices_from is not None and value == UNSET) else str(value).strip()
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
        if spec.secret is not None:
            continue  # never in the YAML or the command line: see secrets_of
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


def secrets_of(specs: list[FieldSpec], values: list[Any]) -> dict[str, str]:
    """Environment variables carrying the secret fields' values (an API key) to the command."""
    return {
        spec.secret: str(raw).strip()
        for spec, raw in zip(specs, values, strict=True)
        if spec.secret is not None and raw is not None and str(raw).strip()
    }


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


def _declared_path_names() -> set[str]:
    """Names of the fields declared path-valued in any command's config class (for untyped mappings)."""
    from ..commands import available_commands, load_ref

    names: set[str] = set()
    seen: set[type] = set()

    def walk(cls: type[BaseModel]) -> None:
        if cls in seen:
            return
        seen.add(cls)
        for name, f in cls.model_fields.items():
            if isinstance(cls, type) and issubclass(cls, StrictConfig) and cls.path_role(name):
                names.add(name)
            for sub in _models(f.annotation):
                walk(sub)

    for cmd in available_commands().values():
        walk(load_ref(cmd.config))
    return names


def _models(ann: Any) -> list[type[BaseModel]]:
    if _is_model(ann):
        return [ann]
    return [m for a in typing.get_args(ann) for m in _models(a)]


def path_role(cls: type[BaseModel], name: str) -> str | None:
    """The declared role (input / output) of field ``name`` of ``cls``, None for a field that is no path."""
    return cls.path_role(name) if issubclass(cls, StrictConfig) else None


def _real_inside(full: Path, ws_real: str) -> bool:
    real = os.path.realpath(full)  # resolves links in the existing part; a missing tail is kept as written
    return real == ws_real or real.startswith(ws_real.rstrip(os.sep) + os.sep)


def _check_value(key: str, value: Any, workspace: Path, role: str) -> None:
    ws = Path(os.path.abspath(workspace))
    for s in path_strings(value):
        if not s:
            continue
        p = Path(os.path.expanduser(s))
        full = Path(os.path.normpath(p if p.is_absolute() else ws / p))
        if not (full == ws or ws in full.parents):
            raise PathError(
                f"{key}: {s!r} is outside the workspace {ws}; use a path inside it (relative paths are "
                "relative to it)"
            )
        if role == "output" and not _real_inside(full, os.path.realpath(ws)):
            raise PathError(
                f"{key}: {s!r} leads through a link to {os.path.realpath(full)}, outside the workspace {ws}; "
                "a linked folder is for reading: write to a real folder inside the workspace"
            )


def _check_free_dict(data: Any, workspace: Path, prefix: str, names: set[str]) -> None:
    """Untyped mappings (a benchmark model's ``overrides``) hold config keys too: judge them by name."""
    if isinstance(data, dict):
        for k, v in data.items():
            if str(k) in names or str(k).endswith(UNTYPED_PATH_SUFFIXES):
                _check_value(f"{prefix}{k}", v, workspace, "output")  # no declaration: the strict check
            _check_free_dict(v, workspace, f"{prefix}{k}.", names)
    elif isinstance(data, (list, tuple)):
        for i, v in enumerate(data):
            _check_free_dict(v, workspace, f"{prefix.rstrip('.')}[{i}].", names)


def check_paths(cfg: BaseModel, workspace: Path, prefix: str = "") -> None:
    """Raise :class:`PathError` naming the first declared path value outside ``workspace`` (see the module
    docstring: inputs lexically, outputs by their real path)."""
    names: set[str] | None = None
    for name in type(cfg).model_fields:
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
        role = path_role(type(cfg), name)
        if role is not None:
            _check_value(key, value, workspace, role)
        elif isinstance(value, dict):
            names = _declared_path_names() if names is None else names
            _check_free_dict(value, workspace, f"{key}.", names)
