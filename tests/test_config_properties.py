"""Property tests of the config loader, for every command's config class: whatever YAML file or ``key=value``
overrides a user gives, the loader returns a valid config or raises :class:`ConfigError` — never another
exception (no traceback reaches the user)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from genomefactory.commands import COMMANDS, load_ref
from genomefactory.config import ConfigError, StrictConfig, describe_config, load_config, parse_overrides

CLASSES: dict[str, type[StrictConfig]] = {name: load_ref(cmd.config) for name, cmd in COMMANDS.items()}
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text without surrogates (they cannot be written to a UTF-8 file) and with YAML's structural characters
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)) | st.sampled_from(list(":-[]{},#&*!|>'\"%@`\n\t ")),
    max_size=40,
)


def _keys(cls: type[StrictConfig]) -> list[str]:
    return [key for key, *_ in describe_config(cls)]


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
    st.sampled_from(["tiny", "lora", "full", "adapter", "embed", "species", "gue", "classification", "1e-3"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT | st.integers(), inner, max_size=4),
    max_leaves=12,
)


def _load_file(cls: type[StrictConfig], data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_bytes(data)
        try:
            cfg = load_config(cls, path)
        except ConfigError as exc:
            assert str(exc).strip()  # a message the user can read
            return
    assert isinstance(cfg, cls)


def _load_overrides(cls: type[StrictConfig], overrides: list[str]) -> None:
    try:
        cfg = load_config(cls, None, overrides)
    except ConfigError as exc:
        assert str(exc).strip()
        return
    assert isinstance(cfg, cls)


@st.composite
def documents(draw: st.DrawFn, cls: type[StrictConfig]) -> Any:
    """A mapping mixing the class's real dotted keys (nested) and junk keys, with random values."""
    keys = _keys(cls)
    doc: dict[Any, Any] = {}
    for _ in range(draw(st.integers(0, 6))):
        key = draw(st.sampled_from(keys) | TEXT)
        node = doc
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                break
            node = nxt
        else:
            node[parts[-1]] = draw(VALUES)
    return doc


@pytest.mark.parametrize("command", sorted(CLASSES))
@SETTINGS
@given(data=st.data())
def test_random_yaml_documents_give_a_config_or_a_config_error(command: str, data: st.DataObject) -> None:
    cls = CLASSES[command]
    doc = data.draw(documents(cls) | VALUES)
    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except yaml.YAMLError:
        assume(False)
    _load_file(cls, text.encode("utf-8"))


@pytest.mark.parametrize("command", sorted(CLASSES))
@SETTINGS
@given(raw=st.binary(max_size=200) | TEXT.map(lambda t: t.encode("utf-8")))
def test_random_bytes_as_yaml_give_a_config_or_a_config_error(command: str, raw: bytes) -> None:
    _load_file(CLASSES[command], raw)


@pytest.mark.parametrize("command", sorted(CLASSES))
@SETTINGS
@given(data=st.data())
def test_random_overrides_give_a_config_or_a_config_error(command: str, data: st.DataObject) -> None:
    cls = CLASSES[command]
    keys = st.sampled_from(_keys(cls)) | TEXT
    item = st.builds(
        lambda k, v, eq: f"{k}{'=' if eq else ''}{v}", keys, TEXT | VALUES.map(str), st.booleans()
    )
    _load_overrides(cls, data.draw(st.lists(item, max_size=5)))


@given(items=st.lists(TEXT, max_size=5))
@SETTINGS
def test_parse_overrides_raises_only_config_errors(items: list[str]) -> None:
    try:
        parsed = parse_overrides(items)
    except ConfigError:
        return
    assert isinstance(parsed, dict)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [*x]\n",  # a list that contains itself
        "training: &t {epochs: *t}\n",
        "? [1, 2]\n: 3\n",  # a list as a key
        "2020-01-01: 3\noutput_dir: 2020-01-01\n",  # dates
        "--- a\n--- b\n",  # two documents
        "!!python/object:os.system {}\n",
        "\x00\x01binary",
    ],
)
def test_awkward_yaml_is_a_config_error(text: str) -> None:
    for cls in CLASSES.values():
        _load_file(cls, text.encode("utf-8"))


@pytest.mark.parametrize(
    "override", ["training.epochs=[", "a=!!python/name:os.system", "x='", "y=\x00", "=3", "a..b=1"]
)
def test_awkward_overrides_are_config_errors(override: str) -> None:
    for cls in CLASSES.values():
        _load_overrides(cls, [override])
