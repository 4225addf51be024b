"""Writing an interpretation: ``report.md`` / ``report.html``, ``interpretation.json``, ``unit_correlations.csv``,
``unit_windows.tsv`` and PNG figures.

The page (Markdown and HTML, rendered from the same blocks) states the model, the SAE, the data and its sizes,
then the motif links of the ``jaspar`` readouts, each readout's top units with its figures, and, with
``unit_motifs``, each described unit's logo, TOMTOM matches and strongest windows.

Figures per readout (matplotlib, Agg backend, no display needed): ``<readout>_bars.png`` (Pearson r of the top
units, significant ones filled), ``<readout>_scatter.png`` (the best unit's activation against the readout) and
``<readout>_hist.png`` (activation histograms of the top three units over the sequences where they fire).
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import atomic_path, atomic_write_json, atomic_write_text

__all__ = ["write_report"]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "readout"


def _figures(out: Path, name: str, info: dict[str, Any], z: np.ndarray, y: np.ndarray) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = info["top_units"]
    if not top:
        return []
    files = []
    slug = _slug(name)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar(
        [str(u["unit"]) for u in top],
        [u["pearson_r"] for u in top],
        color=["tab:blue" if u["significant"] else "lightgray" for u in top],
    )
    ax.set(xlabel="latent unit", ylabel="Pearson r", title=f"{name}: top units (blue = significant)")
    files.append(_save(fig, out / f"{slug}_bars.png"))
    best = top[0]["unit"]
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(z[:, best], y, s=4, alpha=0.5)
    ax.set(xlabel=f"unit {best} activation", ylabel=name, title=f"r = {top[0]['pearson_r']:+.2f}")
    files.append(_save(fig, out / f"{slug}_scatter.png"))
    fig, ax = plt.subplots(figsize=(5, 3))
    for u in top[:3]:
        a = z[:, u["unit"]]
        ax.hist(a[a > 0], bins=40, alpha=0.5, label=f"unit {u['unit']}")
    ax.set(xlabel="activation (where active)", ylabel="sequences")
    ax.legend()
    files.append(_save(fig, out / f"{slug}_hist.png"))
    plt.close("all")
    return files


def _save(fig: Any, dest: Path) -> str:
    fig.tight_layout()
    with atomic_path(dest, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return dest.name


def write_report(
    out: Path,
    report: dict[str, Any],
    per_unit: pd.DataFrame,
    z: np.ndarray,
    readouts: pd.DataFrame,
    figures: bool,
) -> Path:
    """Write everything under ``out``; returns the path of ``interpretation.json``."""
    out.mkdir(parents=True, exist_ok=True)
    tested = per_unit.dropna(subset=["pearson_r"])
    with atomic_path(out / "unit_correlations.csv", suffix=".csv") as tmp:
        tested.to_csv(tmp, index=False)
    if figures:
        for name, info in report["readouts"].items():
            info["figures"] = _figures(out, name, info, z, readouts[name].to_numpy(dtype=float))
    if report.get("unit_motifs") is not None:
        rows = [
            {"unit": u["unit"], "rank": i + 1, **w}
            for u in report["unit_motifs"]
            for i, w in enumerate(u["windows"])
        ]
        with atomic_path(out / "unit_windows.tsv", suffix=".tsv") as tmp:
            cols = ["unit", "rank", "id", "start", "end", "activation", "window"]
            pd.DataFrame(rows, columns=cols).to_csv(tmp, sep="\t", index=False)
    blocks = _blocks(report)
    atomic_write_text(out / "report.md", _render_md(blocks))
    atomic_write_text(out / "report.html", _render_html(blocks))
    atomic_write_json(out / "interpretation.json", report)
    return out / "interpretation.json"


# -- the page: a list of blocks (kind, payload) rendered as Markdown and as HTML -----------------------------
Block = tuple[
    str, Any
]  # ("h1" | "h2" | "h3", text), ("p", text), ("ul", [text]), ("table", (head, rows)), ("img", [src])


def _g(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.2g}" if x != 0 and abs(x) < 0.01 else f"{x:.3f}"
    return str(x)


def _model_line(run: dict[str, Any]) -> str:
    m = run.get("model") or {}
    if not m:
        return "not recorded in the embeddings file"
    keys = ("family", "variant", "init", "path", "revision")
    desc = ", ".join(f"{k} {m[k]}" for k in keys if m.get(k) not in (None, ""))
    return f"{desc}; layer {run.get('layer')}, pooling {run.get('pooling')}"


def _head_blocks(r: dict[str, Any]) -> list[Block]:
    run, sae = r.get("run", {}), r.get("run", {}).get("sae", {})
    sizes = f"{r['n_sequences']} sequences"
    if run.get("length_min") is not None:
        sizes += f" of {run['length_min']}–{run['length_max']} bases"
    sparsity = f"top-{sae.get('k')}" if sae.get("activation") == "topk" else f"ReLU, L1 {sae.get('l1_coeff')}"
    return [
        ("h1", "SAE units and what they read"),
        (
            "ul",
            [
                f"model: {_model_line(run)}",
                f"embeddings: {r['embeddings']} ({sizes}; latents per sequence: {r['type']})",
                f"SAE: {r['sae_checkpoint']} ({sae.get('d_hidden')} units on width {sae.get('d_model')}, {sparsity}); "
                f"{r['units_tested']} units active on these sequences and tested",
                f"statistics: per-unit Pearson and Spearman correlations, Benjamini–Hochberg q < {r['fdr']} for both "
                "= significant; ridge regression from all units, cross-validated R²",
            ]
            + (
                [f"constant readouts skipped: {', '.join(r['skipped_constant_readouts'])}"]
                if r["skipped_constant_readouts"]
                else []
            ),
        ),
    ]


def _link_blocks(r: dict[str, Any]) -> list[Block]:
    if not r.get("motif_links"):
        return []
    return [
        ("h2", "Units linked to JASPAR motifs (FIMO readouts)"),
        (
            "ul",
            [
                lk["sentence"] + f" (q = {_g(lk['pearson_q'])}; readout {lk['readout']})"
                for lk in r["motif_links"]
            ],
        ),
    ]


def _readout_blocks(r: dict[str, Any]) -> list[Block]:
    out: list[Block] = [("h2", "Readouts")]
    head = ["unit", "Pearson r", "q", "Spearman r", "q", "significant", "active in", "top sequence"]
    for name, info in r["readouts"].items():
        ridge = info["ridge"]
        out.append(("h3", name))
        out.append(
            (
                "p",
                f"ridge from all units: cross-validated R² {ridge['r2_cv']:.3f} (r {ridge['pearson_cv']:.2f}); "
                f"{info['n_significant']} significant units.",
            )
        )
        rows = [
            [
                u["unit"],
                f"{u['pearson_r']:+.2f}",
                _g(u["pearson_q"]),
                f"{u['spearman_r']:+.2f}",
                _g(u["spearman_q"]),
                "yes" if u["significant"] else "no",
                f"{u['active_fraction']:.0%}",
                u["top_sequences"][0]["id"] if u["top_sequences"] else "",
            ]
            for u in info["top_units"]
        ]
        out.append(("table", (head, rows)))
        if info.get("figures"):
            out.append(("img", info["figures"]))
    return out


def _unit_blocks(r: dict[str, Any]) -> list[Block]:
    units = r.get("unit_motifs")
    if units is None:
        return []
    out: list[Block] = [
        ("h2", "Units named by motif (top-activating windows -> TOMTOM)"),
        (
            "p",
            f"Each unit's strongest token per sequence, the windows around the {len(units)} units with the largest "
            f"|r| over any readout; their base counts make a PPM matched against {r.get('unit_motifs_database')} "
            "(TOMTOM p, BH q over the database).",
        ),
    ]
    motif_ids = {lk["readout"]: lk["motif"] for lk in r.get("motif_links", [])}
    for u in units:
        out.append(("h3", f"unit {u['unit']}"))
        if u.get("note"):
            out.append(("p", u["note"]))
            continue
        best = u["matches"][0] if u["matches"] else None
        text = (
            f"best readout {u['best_readout']} (r = {u['pearson_r']:+.2f}); {u['n_windows']} windows, "
            f"consensus `{u['consensus']}`"
        )
        check = u.get("site_check")
        if best and check:
            text += (
                f"; best TOMTOM match {best['name']} ({best['id']}), q = {_g(best['q_value'])}. Its FIMO sites are "
                f"in {check['in_windows']:.0%} of these windows vs {check['in_random_windows']:.0%} of random windows "
                f"of the same sequences (Fisher p = {_g(check['fisher_p'])}): "
            )
            if check["supported"]:
                text += f"**unit {u['unit']} reads {best['name']} ({best['id']})**"
                motif = motif_ids.get(u["best_readout"], "")
                if best["id"] in motif:
                    text += f", the same motif as its readout {motif}"
            else:
                text += "not supported (a weak or composition-driven PPM), so the unit is not named by it"
        out.append(("p", text + "."))
        if u.get("logo"):
            out.append(("img", [u["logo"]]))
        rows = [
            [m["rank"], m["id"], m["name"], _g(m["p_value"]), _g(m["q_value"]), m["strand"], m["overlap"]]
            for m in u["matches"]
        ]
        out.append(("table", (["rank", "id", "name", "p", "q", "strand", "overlap"], rows)))
        wins = [[w["id"], w["start"], f"{w['activation']:.3g}", f"`{w['window']}`"] for w in u["windows"][:5]]
        out.append(("table", (["sequence", "start", "activation", "window"], wins)))
    return out


def _blocks(r: dict[str, Any]) -> list[Block]:
    return _head_blocks(r) + _link_blocks(r) + _readout_blocks(r) + _unit_blocks(r)


def _render_md(blocks: list[Block]) -> str:
    lines: list[str] = []
    for kind, x in blocks:
        if kind in ("h1", "h2", "h3"):
            lines += ["#" * int(kind[1]) + " " + x, ""]
        elif kind == "p":
            lines += [x, ""]
        elif kind == "ul":
            lines += [f"- {t}" for t in x] + [""]
        elif kind == "img":
            lines += [" ".join(f"![{Path(s).stem}]({s})" for s in x), ""]
        else:
            head, rows = x
            lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows] + [""]
    return "\n".join(lines)


def _code(text: Any) -> str:
    """Escaped text; `code` spans become <code>, **bold** <b>."""
    text = re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(str(text)))
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)


def _render_html(blocks: list[Block]) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>SAE interpretation</title>",
        "<style>body{font-family:sans-serif;max-width:64em;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:32em;margin:4px}</style></head><body>",
    ]
    for kind, x in blocks:
        if kind in ("h1", "h2", "h3", "p"):
            parts.append(f"<{kind}>{_code(x)}</{kind}>")
        elif kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{_code(t)}</li>" for t in x) + "</ul>")
        elif kind == "img":
            parts.append(
                " ".join(f"<img src='{html.escape(s)}' alt='{html.escape(Path(s).stem)}'>" for s in x)
            )
        else:
            head, rows = x
            th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
            trs = "".join("<tr>" + "".join(f"<td>{_code(c)}</td>" for c in row) + "</tr>" for row in rows)
            parts.append(f"<table><tr>{th}</tr>{trs}</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
