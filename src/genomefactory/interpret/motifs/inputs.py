"""The arrays ``motifs`` reads: one-hot, hypothetical contributions and optional class labels.

An attributions ``.npz`` holds ``one_hot`` (N, L, 4) and ``hypothetical`` (N, L, 4) float arrays, A/C/G/T,
zero-padded on the right, optional ``labels`` (N,) integers and ``ids`` (N,). The names ``attribute`` writes are
read too: ``onehot`` and ``<method>.hypothetical`` (one method, or the one named by ``method``), with labels from
``label``. Otherwise the attributions are computed from a trained run and a sequence file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError, UserFileNotFoundError
from .config import MotifsConfig

__all__ = ["MotifInputs", "check_sources", "load_inputs", "read_attributions"]


@dataclass
class MotifInputs:
    one_hot: np.ndarray  # (N, L, 4) float32
    hypothetical: np.ndarray  # (N, L, 4) float32
    labels: np.ndarray | None  # (N,) int
    ids: list[str]
    sequences: list[str] | None  # when known (computed here)
    source: str  # what was read / computed


def _labels(values: Any, where: str) -> np.ndarray | None:
    if values is None:
        return None
    arr = np.asarray(values)
    try:
        return arr.astype(np.int64)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"{where}: class labels must be integers (0, 1, ...); got {arr[:3].tolist()}"
        ) from exc


def read_attributions(path: str | Path, method: str | None = None) -> MotifInputs:
    p = Path(path)
    if not p.is_file():
        raise UserFileNotFoundError(f"attributions file {p} not found (write it with `attribute`)")
    try:
        z = np.load(p, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{p}: not a NumPy .npz file ({exc})") from exc
    keys = set(z.files)
    oh_key = next((k for k in ("one_hot", "onehot") if k in keys), None)
    hyp_keys = (
        ["hypothetical"] if "hypothetical" in keys else sorted(k for k in keys if k.endswith(".hypothetical"))
    )
    if method and f"{method}.hypothetical" in keys:
        hyp_keys = [f"{method}.hypothetical"]
    if oh_key is None or not hyp_keys:
        raise DataError(f"{p}: needs arrays `one_hot` and `hypothetical` (N, L, 4); it holds {sorted(keys)}")
    if len(hyp_keys) > 1:
        raise DataError(f"{p}: several attribution methods ({hyp_keys}); choose one with `method`")
    oh, hyp = np.asarray(z[oh_key], dtype=np.float32), np.asarray(z[hyp_keys[0]], dtype=np.float32)
    if oh.ndim != 3 or oh.shape[-1] != 4 or hyp.shape != oh.shape:
        raise DataError(f"{p}: `{oh_key}` {oh.shape} and `{hyp_keys[0]}` {hyp.shape} must both be (N, L, 4)")
    lab_key = next((k for k in ("labels", "label") if k in keys), None)
    labels = _labels(z[lab_key], f"{p} `{lab_key}`") if lab_key else None
    ids = [str(i) for i in z["ids"]] if "ids" in keys else [str(i) for i in range(len(oh))]
    if labels is not None and len(labels) != len(oh):
        raise DataError(f"{p}: {len(labels)} labels for {len(oh)} sequences")
    return MotifInputs(oh, hyp, labels, ids, None, f"{p} ({hyp_keys[0]})")


def _compute(cfg: MotifsConfig) -> MotifInputs:
    from ...records import read_frame
    from ..attrib import attribute, load_predictor
    from ..attrib.base import one_hot

    assert cfg.run_dir and cfg.data_file
    frame = read_frame(cfg.data_file)
    if cfg.max_sequences:
        frame = frame.head(cfg.max_sequences)
    seqs = [str(s) for s in frame["sequence"]]
    labels = _labels(frame["label"].to_numpy(), f"{cfg.data_file} column label") if "label" in frame else None
    pred = load_predictor(cfg.run_dir, target=cfg.target, device=cfg.device, batch_size=cfg.batch_size)

    class _Settings:  # the gradient methods' settings (ISM needs none)
        n_steps = 32
        internal_batch_size = None

    res = attribute(pred, seqs, cfg.method, _Settings())
    width = res.hypothetical.shape[1]
    return MotifInputs(
        one_hot(seqs, width),
        res.hypothetical.astype(np.float32),
        labels,
        [str(i) for i in frame["id"]],
        seqs,
        f"{cfg.method} attributions of {cfg.run_dir} on {cfg.data_file}",
    )


def check_sources(cfg: MotifsConfig) -> None:
    """Exactly one input: an attributions file, or a run and a sequence file (checked before any work)."""
    from ...config import ConfigError

    if cfg.attributions_file and (cfg.run_dir or cfg.data_file):
        raise ConfigError("motifs: give either `attributions_file` or `run_dir` + `data_file`, not both")
    if not cfg.attributions_file and not (cfg.run_dir and cfg.data_file):
        raise ConfigError(
            "motifs: give `attributions_file` (an .npz from `attribute`) or `run_dir` and `data_file` "
            "(attributions are then computed with `method`)"
        )


def load_inputs(cfg: MotifsConfig) -> MotifInputs:
    check_sources(cfg)
    if cfg.attributions_file:
        inp = read_attributions(cfg.attributions_file, cfg.method)
        if cfg.max_sequences:
            n = cfg.max_sequences
            inp = MotifInputs(
                inp.one_hot[:n],
                inp.hypothetical[:n],
                None if inp.labels is None else inp.labels[:n],
                inp.ids[:n],
                None,
                inp.source,
            )
        return inp
    return _compute(cfg)
