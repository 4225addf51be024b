"""One benchmark suite: every project path against its plain baseline in the same run, interleaved.

``make bench`` (or ``python benchmarks/suite.py [--repeats 3] [--quick]``) runs each side of each pair in its own
fresh child process (so its peak RSS is its own), alternating project / baseline over ``--repeats`` rounds, and
writes ``benchmarks/results/summary.md`` and ``summary.json``: wall and CPU seconds (the minimum over rounds,
the least disturbed by other load), peak RSS, and the ratio baseline time / project time (> 1: the project is
faster). One torch thread everywhere; the machine, its core count and its load average are recorded, since a
shared machine's wall times are noisy (CPU seconds are less so).

Pairs (baselines in ``benchmarks/baselines/``):
- embedding, NT v1 (``init: tiny``), 4,000 x 101 bp, batch 32, mean pooling: ``Embedder`` vs a batched transformers
  ``EsmModel`` loop with the same weights, and vs the same loop around the project's own module;
- ``process``: a 2.5 Mbp genome (C. diphtheriae, 1x coverage of 500-1000 bp fragments, default QC), end to end
  (``run_process``, plots off and on), against the issue's target of 20 Mbp/s;
- QC alone (default steps) on 10 Mbp of fragments, against the target of 50 Mbp/s/core;
- Caduceus (PH, d_model 128, 2 layers) training step at length 1,024, batch 8 (no baseline: steps/s recorded);
- generation tokens/s: ``benchmarks/generate_speed.py`` (its baseline is a greedy loop without a KV cache).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = Path(os.environ.get("GENOMEFACTORY_SHARED_DATA", ROOT.parent / "shared" / "data")) / "genomes"
GENOME = DATA / "GCF_001457455.1_NCTC11397_genomic.fna.gz"
EMBED_N, EMBED_LEN, EMBED_BATCH = 4000, 101, 32


def _timed(fn: Callable[[], Any]) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


# -- sides (each runs in a fresh child) -------------------------------------------------------------------
def _embed_setup(n: int) -> tuple[Any, list[str]]:
    import torch

    from genomefactory.infer.embed import load_for_inference
    from genomefactory.models import ModelConfig

    torch.set_num_threads(1)
    rng = random.Random(0)
    seqs = ["".join(rng.choice("ACGT") for _ in range(EMBED_LEN)) for _ in range(n)]
    return load_for_inference(ModelConfig(family="nucleotide_transformer", init="tiny")), seqs


def embed_project(n: int) -> dict[str, Any]:
    from genomefactory.infer.embed import Embedder

    bb, seqs = _embed_setup(n)
    emb = Embedder(bb, "mean", batch_size=EMBED_BATCH)
    emb.embed(seqs[:64])
    return {**_timed(lambda: emb.embed(seqs)), "items": n, "unit": "seq"}


def embed_transformers(n: int) -> dict[str, Any]:
    from benchmarks.baselines.embed import plain_embed, transformers_esm

    bb, seqs = _embed_setup(n)
    model = transformers_esm(bb)
    plain_embed(model, bb.tokenizer, seqs[:64], EMBED_BATCH)
    return {**_timed(lambda: plain_embed(model, bb.tokenizer, seqs, EMBED_BATCH)), "items": n, "unit": "seq"}


def embed_same_module(n: int) -> dict[str, Any]:
    from benchmarks.baselines.embed import plain_embed

    bb, seqs = _embed_setup(n)
    base = bb.family.base(bb.model).eval()
    plain_embed(base, bb.tokenizer, seqs[:64], EMBED_BATCH)
    return {**_timed(lambda: plain_embed(base, bb.tokenizer, seqs, EMBED_BATCH)), "items": n, "unit": "seq"}


def process_run(plots: bool) -> dict[str, Any]:
    from genomefactory.collect.config import ProcessConfig
    from genomefactory.collect.process import run_process

    with tempfile.TemporaryDirectory() as tmp:
        cfg = ProcessConfig.model_validate(
            {
                "task": "species",
                "output_dir": tmp,
                "overwrite": True,
                "seed": 0,
                "plots": plots,
                "species": {
                    "genomes": [{"path": str(GENOME), "label": "cdip"}],
                    "fragments_per_species": 3300,
                },
            }
        )
        out = _timed(lambda: run_process(cfg))
    return {**out, "items": 2.488, "unit": "Mbp"}


def qc_run(mbp: float) -> dict[str, Any]:
    import numpy as np

    from genomefactory.collect.config import QCConfig
    from genomefactory.collect.qc import run_qc
    from genomefactory.collect.segment import read_genome, sample_fragments

    contigs = read_genome(GENOME)
    batch = sample_fragments(contigs, int(mbp * 1e6 / 750), 500, 1000, 0, np.random.default_rng(0))
    out = _timed(lambda: run_qc(batch, QCConfig(), np.random.default_rng(0)))
    return {**out, "items": int(batch.lengths.sum()) / 1e6, "unit": "Mbp"}


def caduceus_step(length: int) -> dict[str, Any]:
    import torch

    from genomefactory.models.families.caduceus import CADUCEUS

    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = {**CADUCEUS.published_config("ph-1k"), "d_model": 128, "n_layer": 2}
    model = CADUCEUS.build(cfg).train()
    ids = torch.randint(7, 11, (8, length))

    def step() -> None:
        model(input_ids=ids).logits.float().mean().backward()

    step()
    return {**_timed(step), "items": 1, "unit": "step"}


SIDES: dict[str, Callable[..., dict[str, Any]]] = {
    f.__name__: f
    for f in (embed_project, embed_transformers, embed_same_module, process_run, qc_run, caduceus_step)
}


def _child(name: str, arg: Any, q: Any) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    res = SIDES[name](arg)
    res["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q.put(res)


def run_side(name: str, arg: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(name, arg, q))
    p.start()
    res: dict[str, Any] = q.get()
    p.join()
    return res


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    best = dict(runs[0])
    best["wall_s"] = min(r["wall_s"] for r in runs)
    best["cpu_s"] = min(r["cpu_s"] for r in runs)
    best["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    best["rate_wall"] = best["items"] / best["wall_s"]
    best["rate_cpu"] = best["items"] / best["cpu_s"]
    return best


def pair(
    label: str, project: tuple[str, Any], baseline: tuple[str, Any] | None, repeats: int
) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"project": [], "baseline": []}
    for r in range(repeats):
        sides = [("project", project), ("baseline", baseline)]
        for side, spec in sides if r % 2 == 0 else sides[::-1]:  # alternate who goes first
            if spec is not None:
                runs[side].append(run_side(*spec))
    row: dict[str, Any] = {"path": label, "project": _best(runs["project"])}
    if baseline is not None:
        row["baseline"] = _best(runs["baseline"])
        row["ratio_wall"] = row["baseline"]["wall_s"] / row["project"]["wall_s"]
        row["ratio_cpu"] = row["baseline"]["cpu_s"] / row["project"]["cpu_s"]
    print(json.dumps(row), flush=True)
    return row


def generation(quick: bool) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "g.json"
        args = ["--prompt", "64", "--new", "16" if quick else "32", "--batch", "2", "--out", str(out)]
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate_speed.py"), *args], check=True)
        return list(json.loads(out.read_text())["rows"])


def _fmt(x: float) -> str:
    return f"{x:.3g}" if x < 100 else f"{x:,.0f}"


def write_summary(rows: list[dict[str, Any]], gen: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.json").write_text(
        json.dumps({"meta": meta, "rows": rows, "generation": gen}, indent=2)
    )
    lines = [
        "# Benchmark summary (`make bench`)",
        "",
        f"Machine: {meta['machine']}; {meta['cores']} cores; torch {meta['torch']}, 1 thread per process; "
        f"load average {meta['load_start']} at start, {meta['load_end']} at end "
        f"({'shared with other jobs' if meta['shared'] else 'otherwise idle'}). Times: best of {meta['repeats']} "
        "interleaved rounds, each side in a fresh process; ratio = baseline time / project time (> 1: faster).",
        "",
        "| path | project (wall / CPU s) | baseline (wall / CPU s) | ratio wall | ratio CPU | project rate (CPU) "
        "| peak RSS project / baseline (MiB) | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p, b = r["project"], r.get("baseline")
        base = f"{_fmt(b['wall_s'])} / {_fmt(b['cpu_s'])}" if b else "-"
        rss = f"{p['peak_rss_mib']:.0f} / {b['peak_rss_mib']:.0f}" if b else f"{p['peak_rss_mib']:.0f}"
        ratio_w = f"{r['ratio_wall']:.2f}x" if b else "-"
        ratio_c = f"{r['ratio_cpu']:.2f}x" if b else "-"
        lines.append(
            f"| {r['path']} | {_fmt(p['wall_s'])} / {_fmt(p['cpu_s'])} | {base} | {ratio_w} | {ratio_c} "
            f"| {_fmt(p['rate_cpu'])} {p['unit']}/s | {rss} | {r.get('target', '')} |"
        )
    for g in gen:
        lines.append(
            f"| generation {g['family']} (tokens/s, vs a loop without KV cache) | {g['engine_tok_s']} tok/s | "
            f"{g['plain_tok_s']} tok/s | {g['speedup']}x | - | - | - | identical tokens: "
            f"{g['identical_greedy_tokens']} |"
        )
    lines += [
        "",
        "Not in the suite yet: training vs HF Trainer, SAE training, variant scoring, ISM (see note).",
    ]
    (RESULTS / "summary.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, one round (a smoke run)")
    args = ap.parse_args()
    repeats = 1 if args.quick else args.repeats
    n = 500 if args.quick else EMBED_N
    import torch

    meta = {
        "machine": f"{platform.machine()} {platform.processor() or platform.platform()}",
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "repeats": repeats,
        "load_start": round(os.getloadavg()[0], 2),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    t0 = time.perf_counter()
    rows = [
        pair(
            "embedding vs transformers EsmModel loop",
            ("embed_project", n),
            ("embed_transformers", n),
            repeats,
        ),
        pair(
            "embedding vs plain loop on the same module",
            ("embed_project", n),
            ("embed_same_module", n),
            repeats,
        ),
        {
            **pair("process 2.5 Mbp end to end, plots off", ("process_run", False), None, repeats),
            "target": ">= 20 Mbp/s",
        },
        {
            **pair("process 2.5 Mbp end to end, plots on", ("process_run", True), None, repeats),
            "target": ">= 20 Mbp/s",
        },
        {
            **pair("QC alone, default steps", ("qc_run", 2.0 if args.quick else 10.0), None, repeats),
            "target": ">= 50 Mbp/s/core",
        },
        {
            **pair(
                "Caduceus PH d128 train step, L 1024, batch 8",
                ("caduceus_step", 256 if args.quick else 1024),
                None,
                1,
            ),
            "target": ">= 2x today (not met)",
        },
    ]
    gen = generation(args.quick)
    meta["load_end"] = round(os.getloadavg()[0], 2)
    meta["shared"] = max(meta["load_start"], meta["load_end"]) > 1.0
    meta["seconds"] = round(time.perf_counter() - t0, 1)
    write_summary(rows, gen, meta)
    print((RESULTS / "summary.md").read_text())


if __name__ == "__main__":
    main()
