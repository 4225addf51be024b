"""Which model family a checkpoint folder holds, decided from the folder's own files.

Every family declares how it recognises its checkpoints (:meth:`ModelFamily.claims` on the folder's
``config.json`` and file names: ``model_type``, ``architectures``, ``auto_map`` targets, distinguishing keys), so
a downloaded HyenaDNA, Caduceus, Evo, DNABERT-2, NT v1/v2 or GenomeOcean folder loads without ``model.family``.
A genomefactory training run (``genomefactory_model.json``, at the top or under ``model/``) names its family.
``hf_auto`` claims nothing: it is what a user chooses for any other transformers checkpoint.

Errors are one line and name the folder: no family claims it (the families are listed, with ``hf_auto``); an
explicit ``model.family`` contradicts the folder (both are named); ``hf_auto`` on a folder a native family
implements but transformers could only run with remote code (the family is named instead of transformers'
"pass trust_remote_code" advice).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..errors import DataError, UserFileNotFoundError
from .family import ModelFamily, class_refs
from .registry import all_families, get_family

__all__ = [
    "RUN_META",
    "FamilyDetectionError",
    "check_run_meta",
    "checked_family",
    "detect_family",
    "family_claims",
    "run_meta_path",
]

RUN_META = "genomefactory_model.json"  # written by genomefactory.train.model_io


class FamilyDetectionError(ConfigError):
    """A checkpoint folder's family cannot be decided, or contradicts ``model.family``."""


def run_meta_path(directory: Path) -> Path | None:
    """The ``genomefactory_model.json`` of a training run folder (or of its ``model/`` folder), if any."""
    for path in (directory / RUN_META, directory / "model" / RUN_META):
        if path.is_file():
            return path
    return None


_RUN_META_KEYS = ("family", "weights", "method", "task_type", "num_labels", "max_length", "pooling")


def check_run_meta(directory: str | Path, key: str) -> Path:
    """The ``genomefactory_model.json`` of a training run (``key`` names the setting in messages), checked to be
    loadable: valid JSON with the keys ``train`` writes, and ``model.safetensors`` beside it. One clear error
    for a folder that is not a run, a damaged description, or an unfinished run, before any model work."""
    p = Path(directory)
    meta = run_meta_path(p)
    if meta is None:
        raise UserFileNotFoundError(
            f"{key} {p} is not a genomefactory training run (no model/{RUN_META}); "
            "train one with `genomefactory-cli train`"
        )
    try:
        data = json.loads(meta.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{key} {p}: {meta} is not valid JSON ({exc}); the run is damaged: train it again"
        ) from None
    missing = [k for k in _RUN_META_KEYS if not isinstance(data, dict) or k not in data]
    if missing:
        raise DataError(
            f"{key} {p}: {meta} lacks {', '.join(missing)}; it was not written by `genomefactory-cli train` "
            "(or the run is damaged): train it again"
        )
    if not (meta.parent / "model.safetensors").is_file():
        raise UserFileNotFoundError(
            f"{key} {p}: {meta.parent / 'model.safetensors'} is missing (an unfinished or damaged run); "
            "train it again"
        )
    return meta


def _run_family(meta: Path) -> ModelFamily:
    try:
        name = json.loads(meta.read_text())["family"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{meta}: not a genomefactory model description (no 'family' key)") from exc
    return get_family(str(name))


def _config(directory: Path) -> dict[str, Any] | None:
    path = directory / "config.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise DataError(f"{path} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise DataError(f"{path} must hold a JSON object of config keys")
    return data


def family_claims(config: Mapping[str, Any], files: set[str]) -> list[tuple[int, ModelFamily]]:
    """Families claiming a checkpoint (score > 0), most specific first."""
    scored = [(fam.claims(config, files), fam) for fam in all_families()]
    return sorted(((s, f) for s, f in scored if s > 0), key=lambda sf: (-sf[0], sf[1].name))


def _describe(config: Mapping[str, Any]) -> str:
    refs = class_refs(config)
    parts = [f"model_type {config['model_type']!r}"] if config.get("model_type") else ["no model_type"]
    if refs:
        parts.append("classes " + ", ".join(dict.fromkeys(refs[:3])))
    return "config.json: " + "; ".join(parts)


def _unclaimed(directory: Path, config: Mapping[str, Any]) -> FamilyDetectionError:
    names = [f.name for f in all_families() if not f.supports_remote_code]
    return FamilyDetectionError(
        f"cannot tell which model family {directory} holds ({_describe(config)}): set model.family to one of "
        f"{', '.join(names)}, or hf_auto for any other transformers checkpoint"
    )


def detect_family(directory: Path) -> ModelFamily:
    """The family of a checkpoint folder (or a genomefactory run folder), from its files alone."""
    directory = Path(directory)
    meta = run_meta_path(directory)
    if meta is not None:
        return _run_family(meta)
    config = _config(directory)
    if config is None:
        raise UserFileNotFoundError(
            f"{directory} has no config.json, so its model family cannot be detected; is it a checkpoint folder?"
        )
    ranked = family_claims(config, {p.name for p in directory.iterdir()})
    if not ranked:
        raise _unclaimed(directory, config)
    ties = [f.name for s, f in ranked if s == ranked[0][0]]
    if len(ties) > 1:  # two families' rules overlap: a bug in their claims, but the user can still choose
        raise FamilyDetectionError(
            f"{directory} fits several model families ({', '.join(ties)}; {_describe(config)}); set model.family"
        )
    return ranked[0][1]


def _needs_remote_code(config: Mapping[str, Any]) -> bool:
    """transformers could load this config only with downloaded code (auto_map, or a model_type it lacks)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return bool(config.get("auto_map")) or config.get("model_type") not in CONFIG_MAPPING_NAMES


def checked_family(directory: Path, family: str | None, trust_remote_code: bool = False) -> ModelFamily:
    """``model.family`` checked against the folder, or detected from it when ``None``."""
    if family is None:
        return detect_family(directory)
    chosen = get_family(family)
    meta = run_meta_path(directory)
    found = _run_family(meta) if meta is not None else None
    config = _config(directory) if found is None else None
    if config is not None:
        ranked = family_claims(config, {p.name for p in directory.iterdir()})
        if not ranked or any(f.name == chosen.name for _, f in ranked):
            return chosen  # nothing else claims it, or the chosen family does too
        found = ranked[0][1]
    if found is None or found.name == chosen.name:
        return chosen  # no config.json: the family's own reader reports what is missing
    if chosen.supports_remote_code and config is not None:
        if trust_remote_code or not _needs_remote_code(config):
            return chosen  # transformers can load it as it is (or the user allowed the downloaded code)
        raise FamilyDetectionError(
            f"{directory} is a {found.name} checkpoint that transformers can only load with its downloaded code "
            f"({_describe(config)}); genomefactory implements it natively: set model.family: {found.name}"
        )
    raise FamilyDetectionError(
        f"model.family is {chosen.name!r} but {directory} holds a {found.name} checkpoint"
        f"{f' ({_describe(config)})' if config is not None else ' (genomefactory run)'}: "
        f"set model.family: {found.name}, or leave model.family out to detect it"
    )
