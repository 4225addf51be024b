"""The motif report: ``report.md`` and ``report.html`` (logos and match tables), ``patterns.json``,
``matches.tsv``, logos under ``logos/``; every file written atomically."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from ...io import atomic_path, atomic_write_json, atomic_write_text
from .discover import Pattern
from .logos import write_logo

__all__ = ["pattern_records", "write_motif_report"]

ROLE_TEXT = {
    "target": "**discriminative for the target class**",
    "other": "discriminative for the other class(es)",
    "shared": "present, not discriminative",
    "unknown": "no labels: not tested",
}


def pattern_records(patterns: list[Pattern]) -> list[dict[str, Any]]:
    out = []
    for p in patterns:
        out.append(
            {
                "name": p.name,
                "sign": p.sign,
                "n_seqlets": p.n_seqlets,
                "width": int(p.ppm.shape[0]),
                "consensus": "".join("ACGT"[int(i)] for i in p.ppm.argmax(1)),
                "role": p.role,
                "stats": p.stats,
                "ppm": p.ppm.round(5).tolist(),
                "cwm": p.cwm.round(6).tolist(),
                "matches": [m.as_dict() for m in p.matches],
                "logos": {k: f"logos/{p.name}_{k}.png" for k in ("ppm", "cwm")},
            }
        )
    return out


def _logos(out: Path, patterns: list[Pattern]) -> None:
    for p in patterns:
        best = f" ~ {p.matches[0].name} ({p.matches[0].id})" if p.matches else ""
        write_logo(p.ppm, out / "logos" / f"{p.name}_ppm.png", f"{p.name}{best}", "ppm")
        write_logo(p.cwm, out / "logos" / f"{p.name}_cwm.png", f"{p.name} contribution", "cwm")


def _fmt(x: Any) -> str:
    if x is None:
        return "inf"
    if isinstance(x, float):
        return f"{x:.2g}" if abs(x) < 0.01 and x != 0 else f"{x:.2f}"
    return str(x)


def _markdown(info: dict[str, Any], recs: list[dict[str, Any]]) -> str:
    lines = [
        "# Motifs discovered by TF-MoDISco, matched to the database by TOMTOM",
        "",
        f"- input: {info['source']}",
        f"- sequences: {info['n_sequences']} (length {info['length']}); target class: {info['target']}"
        + (f"; class sizes {info['class_sizes']}" if info.get("class_sizes") else "; no labels"),
        f"- database: {info['database']} ({info['n_motifs']} motifs)",
        f"- patterns: {len(recs)}; discriminative for the target class: "
        + (", ".join(r["name"] for r in recs if r["role"] == "target") or "none"),
        "",
        "A pattern is *discriminative* when it raises the target class's score (positive metacluster) and both its "
        "seqlets and its motif hits (FIMO) are enriched in target-class sequences (one-sided Fisher tests, BH "
        f"q < {info['alpha']}). A motif used in every class is reported, but as *not discriminative*.",
        "",
    ]
    for r in recs:
        st = r["stats"]
        lines += [f"## {r['name']}: {ROLE_TEXT.get(r['role'], r['role'])}", ""]
        lines.append(
            f"{r['n_seqlets']} seqlets, width {r['width']}, consensus `{r['consensus']}`, "
            f"{'positive' if r['sign'] > 0 else 'negative'} contributions."
        )
        if "seqlet_fraction_target" in st:
            lines.append(
                f"Sequences with a seqlet: {st['seqlet_fraction_target']:.0%} of target vs "
                f"{st['seqlet_fraction_other']:.0%} of other (q = {_fmt(st['seqlet_q'])}); with a motif hit: "
                f"{st['motif_fraction_target']:.0%} vs {st['motif_fraction_other']:.0%} "
                f"(q = {_fmt(st['motif_q'])})."
            )
        lines += ["", f"![{r['name']} PPM]({r['logos']['ppm']}) ![{r['name']} CWM]({r['logos']['cwm']})", ""]
        lines += ["| rank | id | name | p | q | strand | overlap |", "|---|---|---|---|---|---|---|"]
        lines += [
            f"| {m['rank']} | {m['id']} | {m['name']} | {_fmt(m['p_value'])} | {_fmt(m['q_value'])} | "
            f"{m['strand']} | {m['overlap']} |"
            for m in r["matches"]
        ]
        lines.append("")
    return "\n".join(lines) + "\n"


def _html(info: dict[str, Any], recs: list[dict[str, Any]]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>motifs</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px}.target{color:#b00}</style></head><body>",
        "<h1>Motifs discovered by TF-MoDISco, matched by TOMTOM</h1>",
        f"<p>{e(info['source'])}<br>{info['n_sequences']} sequences; database {e(info['database'])} "
        f"({info['n_motifs']} motifs); target class {info['target']}</p>",
    ]
    for r in recs:
        cls = " class='target'" if r["role"] == "target" else ""
        parts.append(f"<h2{cls}>{e(r['name'])}: {e(ROLE_TEXT.get(r['role'], r['role']).strip('*'))}</h2>")
        parts.append(f"<p>{r['n_seqlets']} seqlets, consensus <code>{e(r['consensus'])}</code></p>")
        parts.append(f"<img src='{r['logos']['ppm']}'> <img src='{r['logos']['cwm']}'>")
        rows = "".join(
            f"<tr><td>{m['rank']}</td><td>{e(m['id'])}</td><td>{e(m['name'])}</td><td>{_fmt(m['p_value'])}</td>"
            f"<td>{_fmt(m['q_value'])}</td><td>{m['strand']}</td></tr>"
            for m in r["matches"]
        )
        parts.append(
            f"<table><tr><th>rank</th><th>id</th><th>name</th><th>p</th><th>q</th><th>strand</th></tr>{rows}</table>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_motif_report(out: Path, info: dict[str, Any], patterns: list[Pattern]) -> Path:
    """Logos, ``patterns.json``, ``matches.tsv``, ``report.md`` and ``report.html`` in ``out``."""
    _logos(out, patterns)
    recs = pattern_records(patterns)
    atomic_write_json(out / "patterns.json", {**info, "patterns": recs})
    rows = [
        {"pattern": r["name"], "role": r["role"], "n_seqlets": r["n_seqlets"], **m}
        for r in recs
        for m in r["matches"]
    ]
    cols = [
        "pattern",
        "role",
        "n_seqlets",
        "rank",
        "id",
        "name",
        "p_value",
        "q_value",
        "strand",
        "offset",
        "overlap",
    ]
    with atomic_path(out / "matches.tsv", ".tsv") as tmp:
        pd.DataFrame(rows, columns=cols).to_csv(tmp, sep="\t", index=False)
    atomic_write_text(out / "report.html", _html(info, recs))
    atomic_write_text(out / "report.md", _markdown(info, recs))
    return out / "report.md"
