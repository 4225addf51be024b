"""Linking SAE latent units to readouts (``genomefactory-cli sae_regression``).

Per sequence, the latent vector is the SAE's code of the pooled embedding, or, for per-token embeddings, of the
first token (``type: first_token``) or the mean of the tokens' codes (``type: mean``), as in the paper's appendix
E.5. For each readout:
- ridge regression from all latents (standardised; alpha chosen by generalised cross-validation inside each
  training fold) scored by K-fold cross-validated R² and Pearson r of the held-out predictions;
- per-unit Pearson and Spearman correlations with two-sided p-values, Benjamini–Hochberg q-values over the units
  that vary (never-active units are not tested); a unit is *significant* when both q-values are below ``fdr``;
- the top units by |Pearson r| and, for each, its top-activating sequences;
- for each ``jaspar`` readout, the sentence linking its best unit to the motif ("unit 7 ↔ CTCF (MA0139.2),
  r = 0.71");
- with ``unit_motifs.enabled``, the reverse link: the units with the largest |r| over any readout, each with its
  top-activating windows (per-token activations; token ``leading_tokens + i`` is base ``i``), their logo and
  TOMTOM matches (:mod:`.motifs.units`).
The report is ``report.md`` + ``report.html`` (:mod:`.report`) beside ``interpretation.json``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats

from ..errors import DataError
from ..io import check_output_dir, write_manifest
from .config import SAERegressionConfig
from .readouts import compute_readouts
from .sae import SparseAutoencoder

log = logging.getLogger("genomefactory.interpret")

__all__ = [
    "RegressionResult",
    "latents_per_sequence",
    "ridge_cv",
    "run_sae_regression",
    "unit_correlations",
    "unit_token_activations",
]


@dataclass
class RegressionResult:
    output: Path  # interpretation.json
    report: dict[str, Any]
    seconds: float

    def summary(self) -> str:
        lines = [f"interpretation -> {self.output} ({self.seconds:.1f} s)"]
        for name, r in self.report["readouts"].items():
            top = ", ".join(f"unit {u['unit']} (r={u['pearson_r']:+.2f})" for u in r["top_units"][:3])
            lines.append(
                f"  {name}: ridge CV R² {r['ridge']['r2_cv']:.3f}; {r['n_significant']} significant "
                f"units; top: {top}"
            )
        lines += [f"  {link['sentence']}" for link in self.report.get("motif_links", [])]
        for u in self.report.get("unit_motifs", []):
            best = u["matches"][0] if u["matches"] else None
            if best and (u.get("site_check") or {}).get("supported"):
                lines.append(
                    f"  unit {u['unit']} reads {best['name']} ({best['id']}): its top windows, TOMTOM q = "
                    f"{best['q_value']:.2g}"
                )
        lines.append(f"  report: {self.output.parent / 'report.html'}")
        return "\n".join(lines)


@torch.no_grad()
def latents_per_sequence(
    sae: SparseAutoencoder, vectors: np.ndarray | list[np.ndarray], how: str
) -> np.ndarray:
    """(sequences, d_hidden) latent activations."""
    if not isinstance(vectors, list):
        return np.concatenate(
            [
                sae.encode(torch.from_numpy(vectors[i : i + 4096]).float()).numpy()
                for i in range(0, len(vectors), 4096)
            ]
        )
    rows = []
    for v in vectors:
        x = torch.from_numpy(np.array(v[:1] if how == "first_token" else v, dtype=np.float32))
        rows.append(sae.encode(x).mean(0).numpy())
    return np.stack(rows)


def _bh(p: np.ndarray) -> np.ndarray:
    q = np.ones_like(p)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = stats.false_discovery_control(p[ok], method="bh")
    return q


def _pearson(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    zc = z - z.mean(0)
    yc = y - y.mean()
    denom = np.sqrt((zc**2).sum(0) * (yc**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip((zc * yc[:, None]).sum(0) / denom, -1.0, 1.0)
        t = r * np.sqrt((len(y) - 2) / np.maximum(1.0 - r**2, 1e-300))
    p = 2.0 * stats.t.sf(np.abs(t), df=len(y) - 2)
    p[~np.isfinite(r)] = np.nan
    return r, p


def unit_correlations(z: np.ndarray, y: np.ndarray, z_ranks: np.ndarray | None = None) -> pd.DataFrame:
    """Per-unit Pearson / Spearman r, p and BH q against one readout; units that never vary get NaN and q = 1."""
    if np.std(y) == 0:
        raise DataError("a readout is constant over all sequences; it cannot be correlated")
    varies = z.std(0) > 0
    pr, pp = np.full(z.shape[1], np.nan), np.full(z.shape[1], np.nan)
    sr, sp = pr.copy(), pp.copy()
    if varies.any():
        zv = z[:, varies].astype(np.float64)
        pr[varies], pp[varies] = _pearson(zv, y.astype(np.float64))
        ranks = z_ranks[:, varies] if z_ranks is not None else stats.rankdata(zv, axis=0)
        sr[varies], sp[varies] = _pearson(ranks, stats.rankdata(y))
    return pd.DataFrame(
        {
            "unit": np.arange(z.shape[1]),
            "pearson_r": pr,
            "pearson_p": pp,
            "pearson_q": _bh(pp),
            "spearman_r": sr,
            "spearman_p": sp,
            "spearman_q": _bh(sp),
        }
    )


def ridge_cv(z: np.ndarray, y: np.ndarray, folds: int, seed: int) -> dict[str, dict[str, float]]:
    """Cross-validated ridge regression of every readout column of ``y`` (n, r) on the latents.

    Latents are scaled to unit variance (not centred, so sparse codes stay sparse; the intercept absorbs the
    mean); alpha is chosen per readout and per outer fold by an inner 3-fold search; sparse codes are solved
    with LSQR, so thousands of units cost milliseconds rather than an n x n eigendecomposition per fold.
    """
    from scipy import sparse
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score
    from sklearn.model_selection import GridSearchCV, KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x: Any = z[:, z.std(0) > 0].astype(np.float64)
    if x.shape[1] == 0:
        raise DataError(
            "no latent unit is ever active on these sequences; the SAE cannot be related to readouts"
        )
    if np.count_nonzero(x) < 0.2 * x.size:
        x = sparse.csr_matrix(x)
    pipe = make_pipeline(StandardScaler(with_mean=False), Ridge(solver="lsqr", tol=1e-6))
    search = GridSearchCV(
        pipe, {"ridge__alpha": np.logspace(-1, 5, 7)}, cv=KFold(3, shuffle=True, random_state=seed)
    )
    out = {}
    for j in range(y.shape[1]):
        pred = cross_val_predict(search, x, y[:, j], cv=KFold(folds, shuffle=True, random_state=seed))
        out[str(j)] = {
            "r2_cv": float(r2_score(y[:, j], pred)),
            "pearson_cv": float(np.corrcoef(y[:, j], pred)[0, 1]),
        }
    return out


def _top_units(
    table: pd.DataFrame, cfg: SAERegressionConfig, z: np.ndarray, y: np.ndarray, frame: pd.DataFrame
) -> list[dict[str, Any]]:
    ranked = table.dropna(subset=["pearson_r"]).reindex(
        table["pearson_r"].abs().dropna().sort_values(ascending=False).index
    )
    out = []
    for _, row in ranked.head(cfg.top_units).iterrows():
        u = int(row["unit"])
        order = np.argsort(-z[:, u], kind="stable")[: cfg.top_sequences]
        seqs = [
            {
                "id": str(frame["id"].iloc[i]),
                "activation": float(z[i, u]),
                "readout": float(y[i]),
                **({"sequence": str(frame["sequence"].iloc[i])[:120]} if "sequence" in frame.columns else {}),
            }
            for i in order
        ]
        out.append(
            {
                "unit": u,
                "pearson_r": float(row["pearson_r"]),
                "pearson_q": float(row["pearson_q"]),
                "spearman_r": float(row["spearman_r"]),
                "spearman_q": float(row["spearman_q"]),
                "significant": bool(row["pearson_q"] < cfg.fdr and row["spearman_q"] < cfg.fdr),
                "active_fraction": float((z[:, u] > 0).mean()),
                "top_sequences": seqs,
            }
        )
    return out


@torch.no_grad()
def unit_token_activations(
    sae: SparseAutoencoder,
    vectors: list[np.ndarray],
    units: list[int],
    sequences: list[str],
    ids: list[str],
    leading: int,
) -> dict[int, list[np.ndarray]]:
    """Per unit, one (bases,) activation array per sequence: token ``leading + i`` is base ``i``."""
    out: dict[int, list[np.ndarray]] = {u: [] for u in units}
    cols = torch.tensor(units, dtype=torch.long)
    for v, seq, sid in zip(vectors, sequences, ids, strict=True):
        if len(v) < leading + len(seq):
            raise DataError(
                f"sequence {sid}: {len(v)} token embeddings for {len(seq)} bases with "
                f"unit_motifs.leading_tokens={leading}; unit -> motif naming needs one token per base (a "
                "character tokenizer: HyenaDNA, Caduceus, Evo); k-mer / BPE models are not supported"
            )
        x = torch.from_numpy(np.array(v[leading : leading + len(seq)], dtype=np.float32))
        a = sae.encode(x)[:, cols].numpy()
        for j, u in enumerate(units):
            out[u].append(a[:, j])
    return out


def _readout_table(cfg: SAERegressionConfig, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The readouts, and for each ``jaspar`` readout column the motif it names (``CTCF (MA0139.2)``)."""
    parts, motifs = [], {}
    for spec in cfg.readouts:
        part = compute_readouts(frame, [spec], cfg.readouts_csv)
        if spec.kind == "jaspar":
            col = str(part.columns[0])
            tail = f" {spec.statistic}"
            motifs[col] = (
                col[: -len(tail)] if spec.name is None and col.endswith(tail) else f"{col} ({spec.jaspar_id})"
            )
        parts.append(part)
    out = pd.concat(parts, axis=1)
    dup = out.columns[out.columns.duplicated()].tolist()
    if dup:
        raise DataError(f"readout names {dup} occur twice; give the readouts distinct `name`s")
    return out, motifs


def _motif_links(report: dict[str, Any], motifs: dict[str, str]) -> list[dict[str, Any]]:
    links = []
    for col, motif in motifs.items():
        info = report["readouts"].get(col)
        if not info or not info["top_units"]:
            continue
        top = info["top_units"][0]
        links.append(
            {
                "readout": col,
                "motif": motif,
                "unit": top["unit"],
                "pearson_r": top["pearson_r"],
                "pearson_q": top["pearson_q"],
                "significant": top["significant"],
                "sentence": f"unit {top['unit']} ↔ {motif}, r = {top['pearson_r']:.2f}"
                + ("" if top["significant"] else " (not significant)"),
            }
        )
    return links


def _check_unit_motifs(cfg: SAERegressionConfig, table: Any) -> Any:
    """Before any work: per-token embeddings with sequences, and the motif database (returned)."""
    from .motifs.database import load_motif_db

    if not table.per_token:
        raise DataError(
            f"unit_motifs needs per-token embeddings; {cfg.embeddings} holds pooled vectors (embed them "
            "with `inference` embed.pooling: token)"
        )
    if "sequence" not in table.frame.columns:
        raise DataError(
            f"unit_motifs needs the sequences in {cfg.embeddings}; embed with keep_sequence: true"
        )
    d = cfg.unit_motifs.database
    return load_motif_db(d.meme_file, d.release, d.collection, d.tax_group)


def _describe_top_units(
    cfg: SAERegressionConfig, sae: SparseAutoencoder, table: Any, per_unit: pd.DataFrame, db: Any
) -> list[dict[str, Any]]:
    from .motifs.units import describe_units

    tested = per_unit.dropna(subset=["pearson_r"]).assign(abs_r=lambda t: t["pearson_r"].abs())
    best = tested.sort_values("abs_r", ascending=False, kind="stable").drop_duplicates("unit")
    best = best.head(cfg.unit_motifs.top_units)
    units = [int(u) for u in best["unit"]]
    seqs = [str(x) for x in table.frame["sequence"]]
    ids = [str(x) for x in table.frame["id"]]
    acts = unit_token_activations(sae, table.vectors, units, seqs, ids, cfg.unit_motifs.leading_tokens)
    u = cfg.unit_motifs
    recs = describe_units(units, acts, seqs, ids, db, Path(cfg.output), u.width, u.windows, u.top_matches)
    for rec, (_, row) in zip(recs, best.iterrows(), strict=True):
        rec.update(best_readout=str(row["readout"]), pearson_r=float(row["pearson_r"]))
    return recs


def _run_facts(cfg: SAERegressionConfig, sae: SparseAutoencoder, table: Any) -> dict[str, Any]:
    frame = table.frame
    lengths = frame["length"] if "length" in frame.columns else frame.get("sequence", pd.Series([])).str.len()
    info = table.info or {}
    return {
        "model": info.get("model"),
        "family": info.get("family"),
        "layer": info.get("layer"),
        "pooling": info.get("pooling"),
        "sae": sae.cfg.model_dump(mode="json"),
        "length_min": int(lengths.min()) if len(lengths) else None,
        "length_max": int(lengths.max()) if len(lengths) else None,
    }


def run_sae_regression(cfg: SAERegressionConfig) -> RegressionResult:
    from ..infer.store import read_embeddings
    from .report import write_report

    t0 = time.perf_counter()
    check_output_dir(
        cfg.output, overwrite=True, key="output"
    )  # a file there, or no permission: before any work
    sae = SparseAutoencoder.load(cfg.sae_checkpoint)
    table = read_embeddings(cfg.embeddings)
    if sae.cfg.d_model != table.hidden:
        raise DataError(
            f"the SAE at {cfg.sae_checkpoint} expects width {sae.cfg.d_model}, but the embeddings "
            f"in {cfg.embeddings} have width {table.hidden}"
        )
    db = _check_unit_motifs(cfg, table) if cfg.unit_motifs.enabled else None
    z = latents_per_sequence(sae, table.vectors, cfg.type)
    readouts, motifs = _readout_table(cfg, table.frame)
    constant = [str(c) for c in readouts.columns if readouts[c].nunique(dropna=False) <= 1]
    if constant:
        # e.g. length over fixed-length fragments: nothing to correlate; reported, not fatal
        log.warning("readouts constant over all sequences, skipped: %s", ", ".join(constant))
        readouts = readouts.drop(columns=constant)
    if readouts.shape[1] == 0:
        raise DataError(
            f"every readout ({', '.join(constant)}) is constant over the sequences of "
            f"{cfg.embeddings}; choose readouts that vary"
        )
    y = readouts.to_numpy(dtype=np.float64)
    ridge = ridge_cv(z, y, cfg.cv_folds, cfg.seed)
    report: dict[str, Any] = {
        "embeddings": cfg.embeddings,
        "sae_checkpoint": cfg.sae_checkpoint,
        "type": cfg.type if table.per_token else "pooled",
        "n_sequences": len(z),
        "d_hidden": int(z.shape[1]),
        "fdr": cfg.fdr,
        "units_tested": int((z.std(0) > 0).sum()),
        "readouts": {},
        "skipped_constant_readouts": constant,
        "run": _run_facts(cfg, sae, table),
    }
    per_unit = []
    z_ranks = stats.rankdata(z, axis=0)  # shared by every readout's Spearman correlations
    for j, name in enumerate(readouts.columns):
        corr = unit_correlations(z, y[:, j], z_ranks)
        sig = (corr["pearson_q"] < cfg.fdr) & (corr["spearman_q"] < cfg.fdr)
        report["readouts"][str(name)] = {
            "ridge": ridge[str(j)],
            "n_significant": int(sig.sum()),
            "top_units": _top_units(corr, cfg, z, y[:, j], table.frame),
        }
        per_unit.append(corr.assign(readout=str(name), significant=sig))
    report["motif_links"] = _motif_links(report, motifs)
    if db is not None:
        report["unit_motifs_database"] = f"{db.source} ({len(db)} motifs)"
        report["unit_motifs"] = _describe_top_units(cfg, sae, table, pd.concat(per_unit), db)
    out = write_report(Path(cfg.output), report, pd.concat(per_unit), z, readouts, cfg.figures)
    inputs = [p for p in (cfg.embeddings, cfg.readouts_csv) if p]
    write_manifest(Path(cfg.output), cfg.model_dump(mode="json"), inputs, cfg.seed, "sae_regression")
    return RegressionResult(out, report, time.perf_counter() - t0)
