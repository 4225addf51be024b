"""``inference`` with ``mode: predict``: apply a fine-tuned run (full, LoRA merged/unmerged, adapter) to sequences.

Input: any record file of :mod:`genomefactory.records` (FASTA, CSV/TSV, gzipped or not): a table's ``sequence``
(or ``seq``) column, ``id`` and other columns are carried over; ids follow the records id rule (FASTA header
word, the ``id`` column, else ``row<N>``).
Output CSV: input columns, then ``prediction`` and, for classification, ``prob_0 .. prob_{k-1}`` (softmax).
Sequences longer than the model's maximum are truncated to it, as in training; the count is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..config import ConfigError
from ..errors import DataError
from ..models.loading import default_device
from ..records import read_frame
from ..train.data import PadCollator, tokenize
from ..train.model_io import is_run_model, load_run_model
from ..train.predictions import write_predictions
from ..train.task_types import is_per_base

log = logging.getLogger("genomefactory.infer")


@dataclass
class PredictionResult:
    output: Path
    rows: int
    truncated: int

    def summary(self) -> str:
        return f"predictions for {self.rows} sequences written to {self.output} ({self.truncated} truncated)"


def read_sequences(path: str | Path) -> pd.DataFrame:
    """A table with ``id``, ``sequence`` and any other input columns, sequences validated and upper-cased."""
    return read_frame(path, what="predict.input")


@torch.no_grad()
def predict_logits(
    run: Any, sequences: list[str], batch_size: int, device: torch.device
) -> tuple[np.ndarray, int]:
    tok = run.backbone.tokenizer
    ids, truncated = tokenize(tok, sequences, run.max_length, "predict input")
    collate = PadCollator(tok.pad_token_id, tok.padding_side, torch.long)
    order = np.argsort([len(x) for x in ids], kind="stable")  # length-grouped batches, input order restored
    out = np.zeros((len(ids), run.model.num_labels), dtype=np.float64)
    model = run.model.to(device).eval()
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = collate([{"input_ids": ids[i]} for i in idx])
        logits = model(
            input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)
        ).logits
        out[idx] = logits.float().cpu().numpy()
    return out, truncated


def run_predict(cfg: Any) -> PredictionResult:
    """Predict ``cfg.predict.input`` with the run directory given as ``cfg.model.path``."""
    if not cfg.model.path or not is_run_model(cfg.model.path):
        raise ConfigError(
            "mode: predict needs model.path to be a genomefactory training run directory (it holds model/"
            "genomefactory_model.json); train one with `genomefactory-cli train`"
        )
    if not cfg.predict.input:
        raise ConfigError("mode: predict needs predict.input (a CSV with a sequence column, or a FASTA file)")
    from ..io import check_output_file

    check_output_file(cfg.predict.output, "predict.output")  # before the input is read or the model loaded
    if cfg.predict.bigwig_path is not None:
        check_output_file(cfg.predict.bigwig_path, "predict.bigwig_path")
    df = read_sequences(cfg.predict.input)  # bad input is refused before the model loads
    if df.empty:
        raise DataError(f"predict.input {cfg.predict.input} holds no records; nothing to predict")
    device = default_device()
    run = load_run_model(cfg.model.path, device=device)
    out = Path(cfg.predict.output)
    if is_per_base(run.meta["task_type"]):  # a track per sequence (infer/per_base.py)
        from .per_base import run_predict_per_base

        out, truncated = run_predict_per_base(cfg, df, run, device)
    else:
        if cfg.predict.bigwig_path is not None:
            raise ConfigError(
                "predict.bigwig_path is for per-base runs (task.type per_base_*); this run predicts one value "
                "per sequence"
            )
        logits, truncated = predict_logits(run, df["sequence"].tolist(), cfg.predict.batch_size, device)
        write_predictions(out, df, logits, run.meta["task_type"])
    log.info("wrote %d predictions to %s", len(df), out)
    from .manifest import write_inference_manifest

    write_inference_manifest(cfg, out)
    return PredictionResult(out, len(df), truncated)
