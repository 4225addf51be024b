"""``inference`` ``mode: predict`` for a per-base run (``task.type: per_base_*``): one track per sequence.

Sequences are tokenized and mapped to bases as in training (``train/per_base.py``: each base takes its token's
output; one token per base for single-base tokenizers); a sequence longer than the model's maximum is cut, and
its last bases get ``.``. Output CSV: the input columns, ``prediction`` and, for classification, ``prob_<k>``,
each a comma-separated list with one item per base in the input's orientation (``train/per_base_output.py``).
``predict.bigwig_path``: also a bigWig on the reference, from the input's ``chrom``, ``start`` (0-based) and
optional ``strand`` columns (``-`` tracks reversed into reference orientation, overlaps averaged): the value
(regression) or the probability of ``predict.bigwig_class`` (classification).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..config import ConfigError
from ..train.per_base import PerBaseCollator, PerBaseDataset, encode_per_base
from ..train.per_base_output import base_tracks, write_bigwig, write_track_table
from ..train.task_types import is_regression

__all__ = ["per_base_logits", "run_predict_per_base"]

log = logging.getLogger("genomefactory.infer")


@torch.no_grad()
def per_base_logits(
    run: Any, sequences: list[str], batch_size: int, device: torch.device
) -> tuple[np.ndarray, np.ndarray, int]:
    """(logits (rows, bases, classes), base mask (rows, bases), truncated rows), rows in input order."""
    tok = run.backbone.tokenizer
    ids, index, truncated = encode_per_base(tok, sequences, run.max_length, "predict input")
    regression = is_regression(run.meta["task_type"])
    collate = PerBaseCollator(tok.pad_token_id, tok.padding_side, regression)
    data = PerBaseDataset(ids, index, None)
    width = max(len(s) for s in sequences)
    logits = np.zeros((len(ids), width, run.model.num_labels), dtype=np.float64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    order = np.argsort([len(x) for x in ids], kind="stable")
    model = run.model.to(device).eval()
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = {k: v.to(device) for k, v in collate([data[i] for i in idx]).items()}
        out = model(**batch)
        n = out.logits.shape[1]
        logits[idx, :n] = out.logits.float().cpu().numpy()
        mask[idx, :n] = out.base_mask.cpu().numpy().astype(np.int64)
    return logits, mask, truncated


def run_predict_per_base(cfg: Any, df: pd.DataFrame, run: Any, device: torch.device) -> tuple[Path, int]:
    """Write the per-base predictions of ``df``; returns (output path, truncated rows)."""
    task_type = run.meta["task_type"]
    pcfg = cfg.predict
    if pcfg.bigwig_path is not None:
        if not {"chrom", "start"} <= set(df.columns):
            raise ConfigError(
                f"predict.bigwig_path needs the windows' coordinates: {pcfg.input} has no chrom and start "
                "columns (0-based start; strand optional)"
            )
        if not is_regression(task_type) and not 0 <= pcfg.bigwig_class < run.model.num_labels:
            raise ConfigError(
                f"predict.bigwig_class {pcfg.bigwig_class} is not a class of this model "
                f"(0..{run.model.num_labels - 1})"
            )
    seqs = df["sequence"].tolist()
    logits, mask, truncated = per_base_logits(run, seqs, pcfg.batch_size, device)
    lengths = [len(s) for s in seqs]
    out = Path(pcfg.output)
    write_track_table(out, df, logits, mask, lengths, task_type)
    if pcfg.bigwig_path is not None:
        tracks = base_tracks(logits, mask, lengths, task_type, pcfg.bigwig_class)
        coords = df[[c for c in ("chrom", "start", "strand") if c in df.columns]]
        n = write_bigwig(Path(pcfg.bigwig_path), coords, tracks)
        log.info("wrote %d bases to %s", n, pcfg.bigwig_path)
    return out, truncated
