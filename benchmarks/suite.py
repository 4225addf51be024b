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
- fine-tuning NT v1 (``init: tiny``, full method) on 384 mixed 70 / 500 bp rows of the real genome, 1 epoch,
  batch 16, dev eval + test predictions: ``run_train`` padded / grouped / packed against a plain transformers
  ``Trainer`` + ``DataCollatorWithPadding`` (``group_by_length`` for the grouped and packed rows);
- SAE training (TopK) against a plain PyTorch loop; variant scoring (masked_marginal) against one variant per
  forward (benchmarks/variant_throughput.py's loop); ISM against one mutant per forward (benchmarks/ism_speed.py's
  loop);
- Caduceus (PH, d_model 128, 2 layers) training step at length 1,024, batch 8 (no baseline: steps/s recorded;
  the step before this scan rewrite was 4.85 s CPU in the same suite, 5.2 s measured beside it here);
- generation tokens/s: ``benchmarks/generate_speed.py`` (GenomeOcean against a greedy loop with the KV cache,
  Evo against the no-cache loop, as its forward exposes no cache).
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


TRAIN_ROWS, TRAIN_EPOCHS, TRAIN_BATCH, TRAIN_LR = (384, 64, 64), 1, 16, 1e-3


def _train_data(root: Path, quick: bool) -> Path:
    """train/dev/test CSVs of mixed 70 / 500 bp fragments of the real genome (the issue's GUE-like mix), random
    binary labels: the same rows for both sides."""
    import gzip

    with gzip.open(GENOME, "rt") as fh:
        text = "".join(line.strip() for line in fh if not line.startswith(">")).upper()
    rng = random.Random(0)
    data = root / "data"
    data.mkdir()
    for split, n in zip(("train", "dev", "test"), TRAIN_ROWS, strict=True):
        n = n // 4 if quick else n
        with (data / f"{split}.csv").open("w") as fh:
            fh.write("sequence,label\n")
            for _ in range(n):
                size = rng.choice((70, 500))
                start = rng.randrange(len(text) - size)
                fh.write(f"{text[start : start + size]},{rng.randrange(2)}\n")
    return data


def train_project(spec: tuple[str, bool]) -> dict[str, Any]:
    import torch

    from genomefactory.train.config import TrainConfig
    from genomefactory.train.finetune import run_train

    mode, quick = spec
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        data = _train_data(Path(tmp), quick)
        cfg = TrainConfig.model_validate(
            {
                "model": {
                    "family": "nucleotide_transformer",
                    "init": "tiny",
                    "attention_path": "packed" if mode == "packed" else "padded",
                },
                "data": {"path": str(data)},
                "task": {"type": "classification"},
                "method": {"name": "full"},
                "training": {
                    "epochs": TRAIN_EPOCHS,
                    "batch_size": TRAIN_BATCH,
                    "learning_rate": TRAIN_LR,
                    "group_by_length": mode != "padded",
                    "seed": 42,
                },
                "output_dir": str(Path(tmp) / "run"),
            }
        )
        out = _timed(lambda: run_train(cfg))
    return {**out, "items": TRAIN_ROWS[0] // (4 if quick else 1) * TRAIN_EPOCHS, "unit": "row"}


def train_hf(spec: tuple[str, bool]) -> dict[str, Any]:
    import torch
    from benchmarks.baselines.train import hf_trainer_run
    from transformers import (  # noqa: F401 (imported before the clock, as the project's side imports its code)
        DataCollatorWithPadding,
        EsmForSequenceClassification,
        Trainer,
        TrainingArguments,
    )

    from genomefactory.models import ModelConfig, load_backbone

    mode, quick = spec
    torch.set_num_threads(1)
    torch.manual_seed(42)
    with tempfile.TemporaryDirectory() as tmp:
        data = _train_data(Path(tmp), quick)

        def run() -> None:
            bb = load_backbone(ModelConfig(family="nucleotide_transformer", init="tiny"))
            hf_trainer_run(data, Path(tmp) / "run", bb, TRAIN_EPOCHS, TRAIN_BATCH, TRAIN_LR, mode != "padded")

        out = _timed(run)
    return {**out, "items": TRAIN_ROWS[0] // (4 if quick else 1) * TRAIN_EPOCHS, "unit": "row"}


SAE_D, SAE_HIDDEN, SAE_K, SAE_BATCH = 256, 2048, 32, 512


def _sae_data() -> Any:
    import torch

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    atoms = torch.randn(SAE_D, 2 * SAE_D, generator=g)
    codes = torch.rand(8192, 2 * SAE_D, generator=g) * (torch.rand(8192, 2 * SAE_D, generator=g) < 0.02)
    return codes @ atoms.t()


def sae_project(steps: int) -> dict[str, Any]:
    from genomefactory.interpret.config import SAEConfig
    from genomefactory.interpret.train_sae import train_sae

    x = _sae_data()
    cfg = SAEConfig(d_hidden=SAE_HIDDEN, activation="topk", k=SAE_K)
    train_sae(x, cfg, steps=2, batch_size=SAE_BATCH)
    return {
        **_timed(lambda: train_sae(x, cfg, steps=steps, batch_size=SAE_BATCH)),
        "items": steps,
        "unit": "step",
    }


def sae_plain(steps: int) -> dict[str, Any]:
    from benchmarks.baselines.sae import plain_topk_sae

    x = _sae_data()
    plain_topk_sae(x, SAE_HIDDEN, SAE_K, 2, SAE_BATCH)
    out = _timed(lambda: plain_topk_sae(x, SAE_HIDDEN, SAE_K, steps, SAE_BATCH))
    return {**out, "items": steps, "unit": "step"}


def _variant_setup(tmp: str, n: int) -> tuple[Any, Any, list[Any], Any]:
    import torch
    from benchmarks.variant_throughput import _variants

    from genomefactory.models.loading import ModelConfig
    from genomefactory.variants.config import VariantsConfig
    from genomefactory.variants.demo import plant_genome
    from genomefactory.variants.engine import load_handle
    from genomefactory.variants.reference import Reference

    torch.set_num_threads(1)
    fa = Path(tmp) / "genome.fa"
    plant_genome(fa, {"chrA": 25000, "chrB": 20000, "chrC": 15000}, sites_per_contig=4, seed=1)
    ref = Reference(fa)
    cfg = VariantsConfig(
        input="-",
        genome="-",
        model=ModelConfig(family="nucleotide_transformer_v2", init="tiny"),
        scores=["masked_marginal"],
        window={"size": 100, "tile": 12},
    )  # type: ignore[arg-type]
    return load_handle(cfg.model, batch_size=64), ref, _variants(ref, n, 2, "sparse"), cfg


def variants_project(n: int) -> dict[str, Any]:
    from genomefactory.variants.scorer import Scorer
    from genomefactory.variants.scores import resolve_scores

    with tempfile.TemporaryDirectory() as tmp:
        h, ref, variants, cfg = _variant_setup(tmp, n)
        scorer = Scorer(h, ref, resolve_scores(cfg.scores, h, "nucleotide_transformer_v2"), cfg)
        scorer.score(variants[:16])
        out = _timed(lambda: scorer.score(variants))
    return {**out, "items": n, "unit": "variant"}


def variants_plain(n: int) -> dict[str, Any]:
    from benchmarks.variant_throughput import plain_loop

    with tempfile.TemporaryDirectory() as tmp:
        h, ref, variants, _ = _variant_setup(tmp, n)
        plain_loop("masked_marginal", h, ref, variants[:8], 100, 1)
        out = _timed(lambda: plain_loop("masked_marginal", h, ref, variants, 100, 1))
    return {**out, "items": n, "unit": "variant"}


def _ism_setup(n: int) -> tuple[Any, list[str]]:
    import torch
    from benchmarks.ism_speed import predictor

    torch.set_num_threads(1)
    rng = random.Random(0)
    return predictor("hyenadna", 128), ["".join(rng.choice("ACGT") for _ in range(100)) for _ in range(n)]


def ism_project(n: int) -> dict[str, Any]:
    from genomefactory.interpret.attrib.ism import ism_deltas

    pred, seqs = _ism_setup(n)
    ism_deltas(pred, seqs[:1])
    return {**_timed(lambda: ism_deltas(pred, seqs)), "items": n, "unit": "seq"}


def ism_plain(n: int) -> dict[str, Any]:
    from benchmarks.ism_speed import naive

    pred, seqs = _ism_setup(n)
    naive(pred, [seqs[0][:20]])
    return {**_timed(lambda: naive(pred, seqs)), "items": n, "unit": "seq"}


SIDES: dict[str, Callable[..., dict[str, Any]]] = {
    f.__name__: f
    for f in (
        embed_project,
        embed_transformers,
        embed_same_module,
        process_run,
        qc_run,
        caduceus_step,
        train_project,
        train_hf,
        sae_project,
        sae_plain,
        variants_project,
        variants_plain,
        ism_project,
        ism_plain,
    )
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
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "generate_speed.py"), *args], check=True, env=env
        )
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
            f"| generation {g['family']} (tokens/s, vs a {g.get('baseline', 'loop')}) | {g['engine_tok_s']} tok/s | "
            f"{g['plain_tok_s']} tok/s | {g['speedup']}x | - | - | - | identical tokens: "
            f"{g['identical_greedy_tokens']} |"
        )
    lines += [
        "",
        "Notes:",
        "- Embedding: the transformers row is what a user without genomefactory runs (AutoTokenizer batch call, "
        "transformers' EsmModel with the same weights, masked mean pooling, no_grad); the same-module row puts the "
        "same loop around our own encoder, so only tokenisation, batching and pooling differ (the forward is shared "
        "and is most of the time for equal-length 101 bp rows).",
        "- `process` with plots on: the histograms are drawn with Pillow (matplotlib's import and render were "
        "~0.8 s CPU).",
        "- Caduceus: the selective scan keeps (batch, blocks, channels, state) per step (contractions are batched "
        "matmuls, no copies) and computes each step's decay once in backward; the previous suite run measured "
        "4.85 s CPU per step (0.206 step/s).",
        "- Generation: GenomeOcean's baseline is a greedy loop with the KV cache (the project calls "
        "transformers' generate, whose cache handling beats a plain Python cached loop); Evo's is the no-cache loop, as its forward exposes no cache.",
        "- Fine-tuning rows time the whole run (data read, tokenisation, training, dev eval, test predictions) "
        "after imports; the SAE baseline has no auxiliary dead-latent loss (less work per step than the project).",
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
        *(
            pair(
                f"fine-tuning NT v1 tiny, {mode} (vs HF Trainer + DataCollatorWithPadding"
                f"{', group_by_length' if mode != 'padded' else ''})",
                ("train_project", (mode, args.quick)),
                ("train_hf", (mode, args.quick)),
                min(repeats, 2),
            )
            for mode in ("padded", "grouped", "packed")
        ),
        pair(
            f"SAE training TopK d {SAE_D} -> {SAE_HIDDEN}, batch {SAE_BATCH} (vs a plain PyTorch loop)",
            ("sae_project", 5 if args.quick else 30),
            ("sae_plain", 5 if args.quick else 30),
            repeats,
        ),
        pair(
            "variant scoring masked_marginal NT-v2 tiny, 100 bp windows (vs one variant per forward)",
            ("variants_project", 50 if args.quick else 200),
            ("variants_plain", 50 if args.quick else 200),
            repeats,
        ),
        pair(
            "ISM HyenaDNA tiny, 100 bp (vs one mutant per forward)",
            ("ism_project", 1 if args.quick else 3),
            ("ism_plain", 1 if args.quick else 3),
            repeats,
        ),
        {
            **pair(
                "Caduceus PH d128 train step, L 1024, batch 8",
                ("caduceus_step", 256 if args.quick else 1024),
                None,
                1,
            ),
            "target": ">= 2x the previous 0.206 step/s (0.41 step/s)",
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
