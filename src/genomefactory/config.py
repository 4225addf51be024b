"""Strict, typed configuration: YAML file + ``key=value`` overrides -> a pydantic model.

Every config class derives from :class:`StrictConfig`: unknown keys are errors that name the key and the
closest valid key, a wrong type names the key, the value and the expected type, and a missing required key
says so. Field descriptions are the help text of the CLI and the web UI (written once, here).
"""

from __future__ import annotations

import difflib
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import UserError

__all__ = [
    "ChoicesFrom",
    "ConfigError",
    "InPath",
    "InPathlib",
    "OutPath",
    "OutPathlib",
    "PathRole",
    "Secret",
    "StrictConfig",
    "UserError",
    "deep_merge",
    "describe_config",
    "load_config",
    "parse_overrides",
    "path_strings",
]


class ConfigError(UserError, ValueError):
    """A configuration problem the user can fix; the message says where and how."""


@dataclass(frozen=True)
class PathRole:
    """Marks a field's strings as file-system paths: ``input`` (read) or ``output`` (written).

    Declared once on the field's type (``output_dir: OutPath``, ``genomes: dict[str, InPath]``); the web UI's
    workspace confinement and its results view read it from there (inputs may be links the workspace's owner
    placed; outputs must really lie inside it)."""

    role: Literal["input", "output"]


@dataclass(frozen=True)
class ChoicesFrom:
    """Marks a free-text field whose usual values come from a registry (``"module:function"``, imported only
    when a form is built); ``depends_on`` names a sibling field whose value the function takes (a family's
    variants). The web UI offers them in a drop-down that still accepts other text (aliases, hub models)."""

    ref: str
    depends_on: str | None = None


@dataclass(frozen=True)
class Secret:
    """Marks a field holding a secret (an API key) that the command also reads from the environment variable
    ``env``: the web UI shows a password box and hands the value to the command through ``env``, never through
    the YAML, the command line or the logs."""

    env: str


InPath = Annotated[str, PathRole("input")]
OutPath = Annotated[str, PathRole("output")]
InPathlib = Annotated[Path, PathRole("input")]
OutPathlib = Annotated[Path, PathRole("output")]


def _role_in(ann: Any) -> str | None:
    """The :class:`PathRole` anywhere in an annotation (``OutPath | None``, ``list[InPath]``), else None."""
    if typing.get_origin(ann) is Annotated:
        for meta in getattr(ann, "__metadata__", ()):
            if isinstance(meta, PathRole):
                return meta.role
    for arg in typing.get_args(ann):
        role = _role_in(arg)
        if role is not None:
            return role
    return None


def path_strings(value: Any) -> list[str]:
    if isinstance(value, (str, Path)):
        return [str(value)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in path_strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in path_strings(v)]
    return []


class StrictConfig(BaseModel):
    """Base class of every config: extra keys forbidden, assignments validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())

    @classmethod
    def path_role(cls, name: str) -> str | None:
        """``"input"`` / ``"output"`` for a field declared path-valued (see :class:`PathRole`), else None."""
        f = cls.model_fields[name]
        for meta in f.metadata:
            if isinstance(meta, PathRole):
                return meta.role
        return _role_in(f.annotation)

    def output_paths(self) -> list[str]:
        """Where this config's command writes its results: every set output path, nested sections included
        (as written, relative to the working directory). A command that uses only some sections (inference's
        mode) overrides this."""
        out: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if type(self).path_role(name) == "output":
                out.extend(path_strings(value))
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, StrictConfig):
                    out.extend(item.output_paths())
        return out


C = TypeVar("C", bound=StrictConfig)


def _valid_keys(cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) config class at ``loc`` (the location of an unknown key)."""
    current: Any = cls
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _format_errors(cls: type[BaseModel], err: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for e in err.errors():
        loc = tuple(e["loc"])
        key = ".".join(str(p) for p in loc)
        if e["type"] == "extra_forbidden":
            valid = _valid_keys(cls, loc)
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            lines.append(f"  unknown key '{key}'{hint} (valid keys here: {', '.join(valid)})")
        elif e["type"] == "missing":
            lines.append(f"  missing required key '{key}'")
        else:
            lines.append(f"  key '{key}': value {e.get('input')!r} is invalid: {e['msg']}")
    return "\n".join(lines)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["a.b=3", "c=[1,2]"]`` -> ``{"a": {"b": 3}, "c": [1, 2]}``; values are parsed as YAML (flow) values.

    A value that is not valid YAML (``x='``, a stray ``[``) is taken as the text it is; the config's types then
    decide whether that text is acceptable."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not of the form key=value (e.g. training.epochs=3)")
        key, raw = item.split("=", 1)
        value = _override_value(raw)
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{item}' conflicts with an earlier override of '{part}'")
        node[parts[-1]] = value
    return out


def _override_value(raw: str) -> Any:
    if raw == "":
        return None
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k] = deep_merge(merged[k], v)
        else:
            merged[k] = v
    return merged


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; an empty file is an empty mapping."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{p} is not a text file (a YAML config is UTF-8 text); check the path") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{p} is not valid YAML{at}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p} must hold a mapping of keys to values, found {type(data).__name__}")
    return data


def load_config(
    cls: type[C], path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None
) -> C:
    """Build ``cls`` from a YAML file and overrides, strictly."""
    data: dict[str, Any] = read_yaml(path) if path is not None else {}
    if overrides:
        extra = parse_overrides(overrides) if isinstance(overrides, list) else overrides
        data = deep_merge(data, extra)
    source = str(path) if path is not None else "overrides"
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(cls, err, source)) from None


def validate_dict(cls: type[C], data: dict[str, Any], source: str = "config") -> C:
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(cls, err, source)) from None


def _type_name(ann: Any) -> str:
    name = getattr(ann, "__name__", None)
    if name and not getattr(ann, "__args__", None):
        return str(name)
    text = str(ann).replace("typing.", "")
    return re.sub(r"\b(?:[a-z_][a-z0-9_]*\.)+([A-Z]\w*)", r"\1", text)  # module paths -> class names


def _models_in(ann: Any) -> list[type[BaseModel]]:
    return [
        a for a in (ann, *getattr(ann, "__args__", ())) if isinstance(a, type) and issubclass(a, BaseModel)
    ]


def describe_config(cls: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Rows of (dotted key, type, default, help) for every leaf field, nested configs flattened.

    A field whose type is a config class, or a union holding one (``Section | None``, ``str | Section``), is
    listed itself (when it can also take another kind of value) and then expanded under its dotted name.
    """
    rows: list[tuple[str, str, str, str]] = []
    for name, field in cls.model_fields.items():
        ann = field.annotation
        key = f"{prefix}{name}"
        models = _models_in(ann)
        others = [a for a in getattr(ann, "__args__", ()) if a is not type(None) and a not in models]
        if not models or others or getattr(ann, "__args__", None):
            default = (
                "(required)" if field.is_required() else repr(field.get_default(call_default_factory=True))
            )
            if not (models and len(models) == 1 and ann is models[0]):
                rows.append((key, _type_name(ann), default, field.description or ""))
        for sub in models[:1] if len(models) == 1 else []:
            rows.extend(describe_config(sub, prefix=f"{key}."))
    return rows


def dump_config(cfg: BaseModel) -> str:
    """The resolved config as YAML (what a run directory's manifest stores and the web UI shows)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
