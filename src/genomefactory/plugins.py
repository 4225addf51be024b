"""One registry mechanism for every extension point: model families, tuning methods, task heads, benchmark
suites, variant scores, attribution methods.

A :class:`Registry` maps names (and aliases) to objects. Built-in entries register themselves when their package
is imported (``builtins``: the module path imported on first use); third-party packages add entries through the
entry-point group ``genomefactory.<kind>`` in their ``pyproject.toml``::

    [project.entry-points."genomefactory.models"]
    my_family = "my_pkg.family:MY_FAMILY"

An entry point may load a module (importing it registers its entries), an instance, or a zero-argument callable
returning an instance; an instance is registered under its ``name`` attribute, else the entry point's name.
Name look-up ignores case, ``-``, ``_`` and spaces; an unknown name is a :class:`UnknownNameError` with the closest
registered name. Nothing here imports torch.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import logging
import threading
import types
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from .errors import UserError

__all__ = ["Registry", "UnknownNameError", "normalise_name"]

log = logging.getLogger("genomefactory.plugins")

T = TypeVar("T")


class UnknownNameError(UserError, KeyError):
    """A name that no registered entry carries (model family, method, suite ...)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


def normalise_name(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


class Registry(Generic[T]):
    """Named entries of one kind (``what``: "model family"), filled by built-ins and entry points."""

    def __init__(self, what: str, group: str, builtins: Iterable[str] = (), key: str = "name") -> None:
        self.what = what
        self.group = group
        self.builtins = tuple(builtins)
        self.key = key
        self._entries: dict[str, T] = {}
        self._primary: dict[str, str] = {}  # normalised key -> primary name
        self._loaded = False
        self._lock = threading.RLock()

    # -- filling -----------------------------------------------------------------------------------
    def register(self, obj: T, name: str | None = None, aliases: Iterable[str] = ()) -> T:
        """Add ``obj`` under ``name`` (default: its ``name`` attribute) and ``aliases``; returns ``obj``."""
        primary = name or str(getattr(obj, self.key))
        with self._lock:
            for key in (primary, *aliases):
                k = normalise_name(key)
                owner = self._primary.get(k)
                if owner is not None and owner != primary:
                    raise ValueError(f"{self.what} name {key!r} already registered by {owner}")
                self._entries[k] = obj
                self._primary[k] = primary
        return obj

    def unregister(self, name: str) -> None:
        """Remove the entry called ``name`` and its aliases (tests registering a temporary entry)."""
        with self._lock:
            primary = self._primary.get(normalise_name(name))
            for key in [k for k, owner in self._primary.items() if owner == primary]:
                del self._entries[key], self._primary[key]

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            self._loaded = True  # set first: a built-in module may look names up while it registers
            for module in self.builtins:
                importlib.import_module(module)
            for ep in _entry_points(self.group):
                self._load_entry_point(ep)

    def _load_entry_point(self, ep: importlib.metadata.EntryPoint) -> None:
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not take the built-ins down with it
            log.warning("could not load %s plugin %r from %s: %s", self.what, ep.name, ep.value, exc)
            return
        if isinstance(obj, types.ModuleType):
            return  # importing it registered its entries
        if callable(obj) and not hasattr(obj, self.key):
            obj = obj()
        if normalise_name(str(getattr(obj, self.key, ep.name))) not in self._entries:
            self.register(obj, str(getattr(obj, self.key, ep.name)))

    # -- reading -----------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Primary names, sorted."""
        self._ensure_loaded()
        return sorted(set(self._primary.values()))

    def all(self) -> list[T]:
        """Each entry once, sorted by primary name."""
        self._ensure_loaded()
        by_name = {self._primary[k]: v for k, v in self._entries.items()}
        return [by_name[n] for n in sorted(by_name)]

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return isinstance(name, str) and normalise_name(name) in self._entries

    def get(self, name: str) -> T:
        """The entry called ``name``; an unknown name is an error naming the closest registered one."""
        self._ensure_loaded()
        obj = self._entries.get(normalise_name(name))
        if obj is None:
            raise UnknownNameError(self.unknown_message(name))
        return obj

    def closest(self, name: str) -> str | None:
        names = self.names()
        by_norm = {normalise_name(n): n for n in names}
        close = difflib.get_close_matches(normalise_name(name), list(by_norm), n=1, cutoff=0.5)
        return by_norm[close[0]] if close else None

    def unknown_message(self, name: str) -> str:
        close = self.closest(name)
        hint = f" Did you mean '{close}'?" if close else ""
        return f"unknown {self.what} {name!r}.{hint} (known: {', '.join(self.names())})"


def _entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    try:
        return list(importlib.metadata.entry_points(group=group))
    except Exception:  # a broken distribution's metadata must not stop the built-ins
        return []


def lazy(ref: str) -> Callable[..., object]:
    """``"pkg.module:attr"`` -> a callable that imports the module on first call and calls ``attr``."""
    module, attr = ref.split(":")

    def call(*args: object, **kwargs: object) -> object:
        return getattr(importlib.import_module(module), attr)(*args, **kwargs)

    call.__name__ = attr
    return call
