"""``inference`` with ``mode: predict``: apply a fine-tuned run (full, LoRA merged/unmerged, adapter) to sequences.

Input: CSV/TSV with a ``sequence`` (or ``seq``) column (``id`` and other columns are carried over), or FASTA.
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

from ..io import atomic_path
from ..models.loading import default_device
from ..sequence import clean_sequence, read_fasta
from ..train.data import PadCollator, tokenize
from ..train.metrics import softmax
from ..train.model_io import is_run_model, load_run_model

log = logging.getLogger("genomefactory.infer")

_FASTA = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz")


@dataclass
class PredictionResult:
    output: Path
    rows: int
    truncated: int

    def summary(self) -> str:
        return f"predictions for {self.rows} sequences written to {self.output} ({self.truncated} truncated)"


def read_sequences(path: str | Path) -> pd.DataFrame:
    """A table with ``id``, ``sequence`` and any other input columns, sequences validated and upper-cased."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"input file {p} not found")
    if p.name.lower().endswith(_FASTA):
        recs = list(read_fasta(p))
        return pd.DataFrame({"id": [r[0] for r in recs], "sequence": [r[1] for r in recs]})
    sep = "\t" if p.suffix.lower() in (".tsv", ".tab") else ","
    df = pd.read_csv(p, sep=sep, dtype={"sequence": str, "seq": str}, keep_default_na=False)
    col = "sequence" if "sequence" in df.columns else "seq" if "seq" in df.columns else None
    if col is None:
        raise ValueError(f"{p}: no 'sequence' or 'seq' column (columns: {', '.join(map(str, df.columns))})")
    df["sequence"] = [clean_sequence(s, f"{p} row {i}") for i, s in enumerate(df.pop(col).tolist(), start=1)]
    if "id" not in df.columns:
        df.insert(0, "id", [f"seq{i}" for i in range(1, len(df) + 1)])
    return df


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
        raise ValueError(
            "mode: predict needs model.path to be a genomefactory training run directory (it holds model/"
            "genomefactory_model.json); train one with `genomefactory-cli train`"
        )
    if not cfg.predict.input:
        raise ValueError("mode: predict needs predict.input (a CSV with a sequence column, or a FASTA file)")
    from ..io import check_output_file

    check_output_file(cfg.predict.output, "predict.output")  # before the model is loaded
    device = default_device()
    run = load_run_model(cfg.model.path, device=device)
    df = read_sequences(cfg.predict.input)
    logits, truncated = predict_logits(run, df["sequence"].tolist(), cfg.predict.batch_size, device)
    if run.meta["task_type"] == "regression":
        df["prediction"] = logits[:, 0]
    else:
        probs = softmax(logits)
        df["prediction"] = probs.argmax(-1)
        for k in range(probs.shape[1]):
            df[f"prob_{k}"] = probs[:, k]
    out = Path(cfg.predict.output)
    with atomic_path(out) as tmp:
        df.to_csv(tmp, index=False)
    log.info("wrote %d predictions to %s", len(df), out)
    from .manifest import write_inference_manifest

    write_inference_manifest(cfg, out)
    return PredictionResult(out, len(df), truncated)
