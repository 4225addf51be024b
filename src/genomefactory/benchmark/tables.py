"""Markdown tables of a sweep's report: suites (the paper's Table 4 layout), per task, efficiency.

Each of our rows states what it is: the model's ``init`` (a ``tiny`` or ``random`` model is not pretrained), the
rows per split (``≤ N`` when subsampled) and how many of the suite's tasks a suite score averages over. Published
rows come below a divider; when a table holds both, our rows that are not comparable with them (not pretrained,
subsampled splits, part of a suite) are marked in the row itself and in a warning above the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["efficiency_table", "markdown_report", "suite_table", "task_table"]

METHOD_TITLES = {"full": "Full", "lora": "LoRA", "adapter": "Adapter"}
NOT_PRETRAINED = "⚠ not pretrained"


def _order(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _norm(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _fmt(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "—"
    return f"{mean:.2f} ± {std:.2f}" if std is not None else f"{mean:.2f}"


def init_text(init: str) -> str:
    return {"pretrained": "pretrained", "tiny": "tiny (random, not pretrained)"}.get(
        init, f"{init} (not pretrained)"
    )


def rows_text(max_rows: int | None) -> str:
    return f"≤ {max_rows} (subsampled)" if max_rows else "full"


def tasks_text(scored: int, info: dict[str, Any]) -> str:
    total = info.get("tasks_in_suite")
    return f"{scored}/{total} tasks" if total else f"{scored} task(s)"


def _label(model: str, init: str, beside_published: bool) -> str:
    return f"{model} {NOT_PRETRAINED}" if beside_published and init != "pretrained" else model


def _published_suite_cell(agg: dict[str, Any], model: str, src: str, suite: str, method: str) -> str:
    for r in agg["published"]:
        same = (r["model"], r["source"], r["method"]) == (model, src, method)
        if same and r["suite"] and _norm(r["suite"]) == _norm(suite):
            return f"{_fmt(r['score'], r['std'])} · whole suite"
    return "—"


def suite_table(agg: dict[str, Any]) -> str:
    """One row per model: init, rows per split, then suite × method cells with the tasks each averages over."""
    rows = agg["suites"]
    suites = _order([r["suite"] for r in rows])
    methods = [m for m in METHOD_TITLES if any(r["method"] == m for r in rows)]
    cols = [f"{s} {METHOD_TITLES[m]}" for s in suites for m in methods]
    published = _order(
        [f"{r['model']}\t{r['source']}" for r in agg["published"] if r["suite"] and r["method"] in methods]
    )
    published_lines = []
    for p in published:
        model, src = p.split("\t")
        cells = [_published_suite_cell(agg, model, src, s, m) for s in suites for m in methods]
        if any(c != "—" for c in cells):
            published_lines.append(
                f"| {model} | pretrained (published: {src}) | full | " + " | ".join(cells) + " |"
            )
    lines = [
        "| Model | init | rows/split | " + " | ".join(cols) + " |",
        "|" + "---|" * (3 + len(cols)),
    ]
    for model in _order([r["model"] for r in rows]):
        mine = [r for r in rows if r["model"] == model]
        cells = []
        for s in suites:
            for m in methods:
                hit = next((r for r in mine if (r["suite"], r["method"]) == (s, m)), None)
                if hit is None:
                    cells.append("—")
                    continue
                text = f"{_fmt(hit['mean'], hit['std'])} · {tasks_text(hit['tasks_scored'], agg['suite_info'][s])}"
                cells.append(text + (" †" if not hit["complete"] else ""))
        label = _label(model, mine[0]["init"], bool(published_lines))
        lines.append(
            f"| {label} | {init_text(mine[0]['init'])} | {rows_text(mine[0]['max_rows_per_split'])} | "
            + " | ".join(cells)
            + " |"
        )
    if published_lines:
        lines.append("| **published (not run here)** | | | " + " | ".join("" for _ in cols) + " |")
        lines += published_lines
    return "\n".join(lines)


def task_table(agg: dict[str, Any], suite: str) -> str:
    rows = [r for r in agg["tasks"] if r["suite"] == suite]
    tasks = _order([r["task"] for r in rows])
    published = _order([f"{r['model']}\t{r['source']}" for r in agg["published"] if r["task"] in tasks])
    lines = [
        "| Model | init | rows/split | Method | " + " | ".join(tasks) + " |",
        "|" + "---|" * (4 + len(tasks)),
    ]
    for key in _order([f"{r['model']}\t{r['method']}" for r in rows]):
        model, method = key.split("\t")
        mine = [r for r in rows if (r["model"], r["method"]) == (model, method)]
        cells = []
        for t in tasks:
            hit = next((r for r in mine if r["task"] == t), None)
            cells.append(f"{_fmt(hit['mean'], hit['std'])} (n={hit['n']})" if hit else "—")
        head = mine[0]
        lines.append(
            f"| {_label(model, head['init'], bool(published))} | {init_text(head['init'])} | "
            f"{rows_text(head['max_rows_per_split'])} | {METHOD_TITLES.get(method, method)} | "
            + " | ".join(cells)
            + " |"
        )
    if published:
        lines.append("| **published (not run here)** | | | | " + " | ".join("" for _ in tasks) + " |")
    for key in published:
        model, src = key.split("\t")
        vals = {r["task"]: r["score"] for r in agg["published"] if (r["model"], r["source"]) == (model, src)}
        cells = [f"{vals[t]:.2f}" if t in vals else "—" for t in tasks]
        lines.append(f"| {model} | pretrained | full | published ({src}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def efficiency_table(agg: dict[str, Any]) -> str:
    lines = [
        "| Model | init | Method | trainable params | training loop K tok/s | end-to-end K tok/s "
        "| peak GPU memory (GB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in agg["efficiency"]:
        loop = _num(e["throughput_ktok_s"]) + (" (head only, cached features)" if e["head_only"] else "")
        params = "—" if e["trainable_params"] is None else f"{e['trainable_params']:,}"
        e2e = _num(e["throughput_e2e_ktok_s"])
        if e.get("features_cached"):
            e2e += " (features read from an earlier run's cache: extraction not timed)"
        lines.append(
            f"| {e['model']} | {init_text(e['init'])} | {METHOD_TITLES.get(e['method'], e['method'])} | {params} "
            f"| {loop} | {e2e} | {_num(e['peak_mem_gb'])} |"
        )
    return "\n".join(lines)


def _comparability(agg: dict[str, Any]) -> list[str]:
    """Warnings above the suite table when our rows are shown beside published ones they cannot match."""
    if not agg["published"]:
        return []
    notes = []
    untrained = _order([r["model"] for r in agg["suites"] if r["init"] != "pretrained"])
    if untrained:
        notes.append(
            f"⚠ {', '.join(untrained)}: not pretrained (init tiny/random): their scores are not comparable with "
            "the published rows, which are pretrained models."
        )
    sub = {s: i["max_rows_per_split"] for s, i in agg["suite_info"].items() if i["max_rows_per_split"]}
    if sub:
        notes.append(
            "⚠ splits subsampled ("
            + ", ".join(f"{s}: ≤ {n} rows per split" for s, n in sub.items())
            + "): scores are not comparable with published ones, which use the full splits."
        )
    part = [
        f"{s}: {i['tasks_in_sweep']} of {i['tasks_in_suite']}"
        for s, i in agg["suite_info"].items()
        if i["tasks_in_suite"] and i["tasks_in_sweep"] < i["tasks_in_suite"]
    ]
    if part:
        notes.append(
            "⚠ part of a suite ("
            + ", ".join(part)
            + " tasks): a published suite score averages over the whole suite."
        )
    return notes


def _scope_lines(agg: dict[str, Any]) -> list[str]:
    lines = []
    for suite, info in agg["suite_info"].items():
        rows = [r for r in agg["tasks"] if r["suite"] == suite]
        scored = len(_order([r["task"] for r in rows if r["n"] > 0]))
        total = f" of the suite's {info['tasks_in_suite']}" if info["tasks_in_suite"] else ""
        lines.append(
            f"- {suite}: our rows average over {scored} task(s) with results, of {info['tasks_in_sweep']} in "
            f"this sweep{total}; rows per split: {rows_text(info['max_rows_per_split'])}"
            + ("; a published suite score averages over its whole suite" if agg["published"] else "")
        )
    return lines


def markdown_report(agg: dict[str, Any], cells: list[Any], plot: Path | None) -> str:
    """The whole ``report.md``; ``cells`` are the sweep's :class:`~genomefactory.benchmark.report.CellRecord` s."""
    parts = ["# Benchmark report", "", "## Suites (mean ± std over seeds of the mean over tasks)", ""]
    warnings = _comparability(agg)
    if warnings:
        parts += [*warnings, ""]
    parts += [suite_table(agg), ""]
    if any(not r["complete"] for r in agg["suites"]):
        parts += ["† incomplete: some cells failed or were skipped (see below).", ""]
    parts += [*_scope_lines(agg), ""]
    for suite in _order([r["suite"] for r in agg["tasks"]]):
        metric = ", ".join(_order([r["metric"] for r in agg["tasks"] if r["suite"] == suite]))
        parts += [
            f"## {suite}: per task (test {metric}, mean ± std over seeds)",
            "",
            task_table(agg, suite),
            "",
        ]
    parts += [
        "## Efficiency",
        "",
        efficiency_table(agg),
        "",
        "Training loop: the trainer's real (non-padding) tokens per second; with adapter tuning on cached features "
        "it times the head alone. End-to-end: the same training tokens over the cell's wall-clock time (model "
        "loading, feature extraction, training, evaluation), over cells that extracted their own features.",
        "",
    ]
    bad = [c for c in cells if c.status != "ok"]
    if bad:
        parts += ["## Failed and skipped cells", ""]
        parts += [
            f"- {c.status}: {c.cell_id()}: {(c.error or '').splitlines()[0] if c.error else ''}" for c in bad
        ]
        parts.append("")
    if plot is not None:
        parts += ["## Trade-off", "", f"![score vs throughput and memory]({plot.name})", ""]
    return "\n".join(parts)
