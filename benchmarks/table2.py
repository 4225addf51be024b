"""The paper's Table 2 (and Table 3) training-efficiency measurement, with our speed levers, beside its figures.

Usage::

    python benchmarks/table2.py                 # GPU: paper sizes (random weights; throughput does not depend on them)
    python benchmarks/table2.py --cpu           # reduced sizes (tiny configs, few steps); automatic without CUDA
    python benchmarks/table2.py --only DNABERT-2 --steps 20 --compile

Workload (the paper's, GUE covid-like): 9 classes, sequences of 900-1,000 bp (seeded random DNA: throughput does
not depend on the letters), batch 32, AdamW, one optimizer step = forward + loss + backward + step. Tokens/s counts
*real* (non-padding) tokens, so padding is never credited as work. Peak memory is ``torch.cuda.max_memory_allocated``
(null on CPU). MFU = model FLOPs / time / ``--peak-tflops`` with 6, 4 or 2 FLOPs per backbone parameter per token
(full: forward + weight and input gradients; LoRA: forward + input gradients through frozen weights; adapter
re-running the backbone: forward only); attention FLOPs are left out, so MFU is a lower bound.

Settings per cell:
- ``baseline`` (the paper's setup): fp32, eager-equivalent (SDPA math kernel) attention, padded batches in random
  order, torch AdamW, adapters re-run the frozen backbone every step.
- ``ours``: bf16 autocast (GPU), SDPA (flash / memory-efficient kernels), the packed padding-free path where the
  family has one (DNABERT-2, NT-v2), length-grouped batches, fused AdamW (GPU), adapter training on cached backbone
  features, ``torch.compile`` with ``--compile``; gradient checkpointing only when memory-bound: a cell of ours
  that runs out of GPU memory, or peaks above the paper's figure, is measured again with checkpointing on and the
  checkpointed figure is kept when it fits (``levers.ckpt`` says which). For the cached adapter, ``tokens/s`` is the steady state of
  training on cached features and ``eff3`` the three-epoch figure including the one-off feature extraction.
Lever ratios (same settings but one lever): packed/padded (DNABERT-2 and an NT-v2 row, random and length-grouped
batches) and cached/plain adapter. Writes ``benchmarks/results/table2_{gpu,cpu}.json`` atomically after every row
(a run cut short keeps the rows it finished; ``"complete": false`` until the end).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genomefactory.io import atomic_path
from genomefactory.models import ModelConfig, load_backbone
from genomefactory.models.checkpointing import enable_checkpointing
from genomefactory.models.layers.varlen import set_attention_path
from genomefactory.train.config import LoraConfig, MethodConfig
from genomefactory.train.data import PadCollator
from genomefactory.train.methods import build_task_model, count_parameters

RESULTS = Path(__file__).resolve().parent / "results"
# Paper Table 2 / Table 3 (one H100, FP32, eager attention): trainable params, peak GB, K tokens/s
PAPER: dict[tuple[str, str], tuple[str, float, float]] = {
    ("HyenaDNA-160k", "full"): ("6.55M", 5.75, 381.48),
    ("HyenaDNA-160k", "lora"): ("0.10M", 4.45, 446.05),
    ("HyenaDNA-160k", "adapter"): ("0.07M", 1.84, 1113.32),
    ("DNABERT-2", "full"): ("117.08M", 7.30, 40.70),
    ("DNABERT-2", "lora"): ("1.49M", 6.18, 44.07),
    ("DNABERT-2", "adapter"): ("0.20M", 2.09, 124.30),
    ("Caduceus-131k", "full"): ("7.73M", 6.89, 143.55),
    ("Caduceus-131k", "lora"): ("0.81M", 1.85, 394.30),
    ("Caduceus-131k", "adapter"): ("0.07M", 1.85, 467.72),
    ("NT-500M", "full"): ("480.45M", 18.94, 12.08),
    ("NT-500M", "lora"): ("4.46M", 15.95, 14.49),
    ("NT-500M", "adapter"): ("0.33M", 4.10, 41.28),
    ("Evo-1-131k", "lora"): ("0.39M", 84.85, 6.02),
    ("Evo-1-131k", "adapter"): ("1.05M", 14.74, 13.03),
    ("GenomeOcean-100M", "full"): ("116.42M", 7.39, 45.28),
    ("GenomeOcean-100M", "lora"): ("1.70M", 7.00, 45.88),
    ("GenomeOcean-100M", "adapter"): ("0.20M", 2.74, 137.48),
    ("NT-2.5B", "full"): ("2.54B", 63.95, 2.40),
    ("NT-2.5B", "lora"): ("11.86M", 43.33, 3.34),
    ("GenomeOcean-500M", "full"): ("534.83M", 19.58, 11.85),
    ("GenomeOcean-500M", "lora"): ("3.97M", 15.48, 15.07),
}
ALL = ("full", "lora", "adapter")
# (row name, family, variant, methods); the last two rows are Table 3's
CELLS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("HyenaDNA-160k", "hyenadna", "medium-160k", ALL),
    ("DNABERT-2", "dnabert2", "117M", ALL),
    ("Caduceus-131k", "caduceus", "ps-131k", ALL),
    ("NT-500M", "nucleotide_transformer", "500m-human-ref", ALL),
    ("Evo-1-131k", "evo", "131k", ("lora", "adapter")),
    ("GenomeOcean-100M", "genomeocean", "100M", ALL),
    ("NT-2.5B", "nucleotide_transformer", "2.5b-multi-species", ("full", "lora")),
    ("GenomeOcean-500M", "genomeocean", "500M", ("full", "lora")),
]
PACKED_FAMILIES = ("dnabert2", "nucleotide_transformer", "nucleotide_transformer_v2")
# LoRA targets of the paper's measured runs: its Table 2/3 trainable counts match LoRA on every linear layer for these
# families (DNABERT-2 1.48M, NT-500M 4.44M, Caduceus 0.81M, GenomeOcean 1.70M/3.97M, NT-2.5B 11.83M with a 9-class
# head), while HyenaDNA (0.10M) and Evo (0.39M) match the family defaults (appendix C's modules)
PAPER_LORA_TARGETS = {
    "dnabert2": "all",
    "nucleotide_transformer": "all",
    "caduceus": "all",
    "genomeocean": "all",
}
# reduced sizes: tiny configs, DNABERT-2's long enough for 1 kb (its tiny ALiBi table stops at 256 tokens); the
# packed/padded lever rows use small (not tiny) widths so that linear layers, the part packing saves, dominate
REDUCED = {"dnabert2": {"max_position_embeddings": 512, "alibi_starting_size": 512}}
SMALL = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 512}


@dataclass(frozen=True)
class Levers:
    bf16: bool = False
    sdpa: bool = False  # False: the math kernel, as eager attention
    packed: bool = False
    group: bool = False
    cache: bool = False
    fused: bool = False
    compile: bool = False
    ckpt: bool = False  # gradient checkpointing of the backbone's blocks (full and LoRA only)


@dataclass
class Run:
    sizes: str  # "paper" or "reduced"
    device: torch.device
    batch: int
    steps: int
    warmup: int
    max_seconds: float = 1e9  # stop measuring a cell after this long (at least 2 measured steps)
    n_classes: int = 9


def sequences(n: int, seed: int, min_bp: int = 900) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), size=int(rng.integers(min_bp, 1001)))) for _ in range(n)]


def batches(lengths: list[int], batch: int, group: bool, n: int, seed: int) -> list[np.ndarray]:
    """``n`` index batches: random, or length-grouped (sorted runs of ``batch``) visited in random order."""
    rng = np.random.default_rng(seed)
    order = np.argsort(lengths, kind="stable") if group else rng.permutation(len(lengths))
    out = [order[i : i + batch] for i in range(0, len(order) - batch + 1, batch)]
    return [out[i] for i in rng.permutation(len(out))[:n]]


def flops_per_token(method: str, levers: Levers, backbone_params: int) -> int:
    if method == "full":
        return 6 * backbone_params
    if method == "lora":
        return 4 * backbone_params
    return 0 if levers.cache else 2 * backbone_params


def _autocast(levers: Levers, device: torch.device) -> Any:
    if levers.bf16:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _sdpa(levers: Levers) -> Any:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return contextlib.nullcontext() if levers.sdpa else sdpa_kernel(SDPBackend.MATH)


def _build(
    family: str, variant: str, method: str, run: Run, levers: Levers, small: bool
) -> tuple[Any, Any, int]:
    torch.manual_seed(0)
    if run.sizes == "paper":
        cfg = ModelConfig(family=family, variant=variant, init="random")
    else:
        cfg = ModelConfig(
            family=family, init="tiny", tiny_overrides={**REDUCED.get(family, {}), **(SMALL if small else {})}
        )
    with run.device:  # initialise on the device: full-size random init on the CPU would dominate the run
        backbone = load_backbone(cfg)
        method_cfg = MethodConfig(
            name=method, lora=LoraConfig(target_modules=PAPER_LORA_TARGETS.get(family, "default"))
        )
        model = build_task_model(backbone, method_cfg, "classification", run.n_classes)
    model.to(run.device).train()
    if levers.packed:
        set_attention_path(backbone.base, "packed")
    if levers.ckpt and method != "adapter":  # a frozen backbone under no_grad keeps no activations to save
        enable_checkpointing(backbone.family, backbone.base)
    backbone_params = sum(p.numel() for n, p in backbone.base.named_parameters() if "lora_" not in n)
    return backbone, model, backbone_params


def measure(
    family: str, variant: str, method: str, run: Run, levers: Levers, small: bool = False, min_bp: int = 900
) -> dict[str, Any]:
    """One (model, method, settings) cell: tokens/s of real tokens, peak memory, trainable parameters."""
    backbone, model, n_backbone = _build(family, variant, method, run, levers, small)
    tok = backbone.tokenizer
    seqs = sequences(run.batch * (run.steps + run.warmup), seed=1, min_bp=min_bp)
    ids = tok(seqs, add_special_tokens=True, truncation=True, max_length=backbone.max_tokens)["input_ids"]
    labels = torch.from_numpy(np.random.default_rng(2).integers(0, run.n_classes, len(seqs)))
    plan = batches([len(x) for x in ids], run.batch, levers.group, run.steps + run.warmup, seed=3)
    collate = PadCollator(
        tok.pad_token_id if tok.pad_token_id is not None else 0, tok.padding_side, torch.long
    )
    trainable, _ = count_parameters(model)
    params = [p for p in model.parameters() if p.requires_grad]
    fused = levers.fused and run.device.type == "cuda"
    opt = torch.optim.AdamW(params, lr=1e-4, fused=fused)
    step_model: Any = torch.compile(model, dynamic=True) if levers.compile else model
    sync = torch.cuda.synchronize if run.device.type == "cuda" else (lambda: None)
    extract_s = 0.0
    feats = None
    if method == "adapter" and levers.cache:  # one-off pass of the frozen backbone, as train/features.py does
        t0 = time.perf_counter()
        feats = _features(model, ids, collate, run, levers)
        sync()
        extract_s = time.perf_counter() - t0
    if run.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    tokens = 0
    t0 = time.perf_counter()
    for i, idx in enumerate(plan):
        if i == run.warmup:
            sync()
            t0, tokens = time.perf_counter(), 0
        elif i > run.warmup + 1 and time.perf_counter() - t0 > run.max_seconds:
            break
        b = collate([{"input_ids": ids[j], "labels": int(labels[j])} for j in idx])
        inputs = (
            {"features": feats[idx].to(run.device)}
            if feats is not None
            else {
                "input_ids": b["input_ids"].to(run.device),
                "attention_mask": b["attention_mask"].to(run.device),
            }
        )
        with _autocast(levers, run.device), _sdpa(levers):
            loss = step_model(**inputs, labels=b["labels"].to(run.device)).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        tokens += int(b["attention_mask"].sum())
    sync()
    seconds = time.perf_counter() - t0
    tps = tokens / seconds
    peak = torch.cuda.max_memory_allocated() / 1e9 if run.device.type == "cuda" else None
    out = {
        "trainable_params": trainable,
        "tokens_per_s": tps,
        "peak_mem_gb": peak,
        "model_tflops": flops_per_token(method, levers, n_backbone) * tps / 1e12,
        "levers": asdict(levers),
    }
    if feats is not None:
        epoch_tokens = sum(len(x) for x in ids)
        out["extract_s"] = extract_s
        out["eff3_tokens_per_s"] = 3 * epoch_tokens / (extract_s + 3 * epoch_tokens / tps)
    del model, opt, step_model
    if run.device.type == "cuda":
        torch.cuda.empty_cache()
    return out


@torch.no_grad()
def _features(
    model: Any, ids: list[list[int]], collate: PadCollator, run: Run, levers: Levers
) -> torch.Tensor:
    model.eval()
    order = np.argsort([len(x) for x in ids], kind="stable")
    out: torch.Tensor | None = None
    for s in range(0, len(order), 64):
        idx = order[s : s + 64]
        b = collate([{"input_ids": ids[j]} for j in idx])
        with _autocast(levers, run.device), _sdpa(levers):
            pooled = model.pooled(b["input_ids"].to(run.device), b["attention_mask"].to(run.device))
        if out is None:
            out = torch.empty(len(ids), pooled.shape[-1])
        out[torch.from_numpy(idx)] = pooled.float().cpu()
    model.train()
    assert out is not None
    return out.to(run.device)


def safe_measure(
    family: str, variant: str, method: str, run: Run, levers: Levers, small: bool = False, min_bp: int = 900
) -> dict[str, Any]:
    """``measure``, with running out of GPU memory recorded as such (the paper's Evo LoRA needed 85 GB)."""
    try:
        return measure(family, variant, method, run, levers, small, min_bp)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        return {
            "oom": True,
            "tokens_per_s": None,
            "peak_mem_gb": None,
            "trainable_params": 0,
            "levers": asdict(levers),
        }


def ours(family: str, method: str, device: torch.device, compile_: bool) -> Levers:
    cuda = device.type == "cuda"
    return Levers(
        bf16=cuda,
        sdpa=True,
        packed=family in PACKED_FAMILIES,
        group=True,
        cache=method == "adapter",
        fused=cuda,
        compile=compile_ and cuda,
    )


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def memory_bound(cell: dict[str, Any], paper_gb: float) -> bool:
    """Out of memory, or above the paper's peak (our target: its throughput ×5 at no more memory)."""
    return bool(cell.get("oom")) or (cell["peak_mem_gb"] is not None and cell["peak_mem_gb"] > paper_gb)


def ours_cell(
    family: str, variant: str, method: str, run: Run, levers: Levers, paper_gb: float
) -> dict[str, Any]:
    """Our levers; with gradient checkpointing as well when memory-bound and it then fits (GPU only)."""
    fast = safe_measure(family, variant, method, run, levers)
    if method == "adapter" or run.device.type != "cuda" or not memory_bound(fast, paper_gb):
        return fast
    ckpt = safe_measure(family, variant, method, run, replace(levers, ckpt=True))
    if ckpt.get("oom"):
        return fast
    if fast.get("oom") or (ckpt["peak_mem_gb"] or 0) <= paper_gb:
        ckpt["without_ckpt"] = {k: fast[k] for k in ("tokens_per_s", "peak_mem_gb") if k in fast}
        return ckpt
    return fast


def table(run: Run, only: list[str] | None, compile_: bool, save: Any = lambda res: None) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    levers_rows: list[dict[str, Any]] = []
    for name, family, variant, methods in CELLS:
        if only and name not in only:
            continue
        for method in methods:
            base = safe_measure(family, variant, method, run, Levers())
            fast_levers = ours(family, method, run.device, compile_)
            paper = PAPER[(name, method)]
            fast = ours_cell(family, variant, method, run, fast_levers, paper[1])
            row = {
                "model": name,
                "method": method,
                "baseline": base,
                "ours": fast,
                "paper_trainable": paper[0],
                "paper_peak_mem_gb": paper[1],
                "paper_ktok_s": paper[2],
                "ratio_ours_vs_paper": _ratio(fast["tokens_per_s"], paper[2] * 1e3)
                if run.sizes == "paper"
                else None,
                "ratio_ours_vs_baseline": _ratio(fast["tokens_per_s"], base["tokens_per_s"]),
            }
            rows.append(row)
            _print_row(row)
            if method == "adapter":
                plain = safe_measure(family, variant, method, run, replace(fast_levers, cache=False))
                levers_rows.append(_lever("cached/plain adapter", name, fast, plain))
            if family == "dnabert2" and method == "full":
                levers_rows += _packed_rows(
                    name, family, variant, run, fast_levers, small=run.sizes == "reduced"
                )
            save({"rows": rows, "levers": levers_rows})
    if not only or "NT-v2" in only:
        small = run.sizes == "reduced"
        levers_rows += _packed_rows(
            "NT-v2-" + ("small" if small else "500m"),
            "nucleotide_transformer_v2",
            "500m",
            run,
            ours("nucleotide_transformer_v2", "full", run.device, compile_),
            small=small,
        )
    return {"rows": rows, "levers": levers_rows}


def _packed_rows(
    name: str, family: str, variant: str, run: Run, fast: Levers, small: bool
) -> list[dict[str, Any]]:
    out = []
    # the paper's 900-1,000 bp leaves little padding; 100-1,000 bp in random batches shows what packing removes
    for group, min_bp in ((False, 900), (True, 900), (False, 100)):
        lv = replace(fast, group=group)
        packed = safe_measure(family, variant, "full", run, replace(lv, packed=True), small, min_bp)
        padded = safe_measure(family, variant, "full", run, replace(lv, packed=False), small, min_bp)
        what = f"{min_bp}-1000 bp, {'length-grouped' if group else 'random'} batches"
        out.append(_lever(f"packed/padded ({what})", name, packed, padded))
    return out


def _lever(lever: str, name: str, on: dict[str, Any], off: dict[str, Any]) -> dict[str, Any]:
    if not (on["tokens_per_s"] and off["tokens_per_s"]):
        print(f"  lever {lever:56s} {name:18s} out of memory")
        return {"lever": lever, "model": name, "oom": True}
    row = {
        "lever": lever,
        "model": name,
        "on_tokens_per_s": on["tokens_per_s"],
        "off_tokens_per_s": off["tokens_per_s"],
        "ratio": on["tokens_per_s"] / off["tokens_per_s"],
    }
    if "eff3_tokens_per_s" in on:
        row["ratio_3_epochs_incl_extraction"] = on["eff3_tokens_per_s"] / off["tokens_per_s"]
    print(
        f"  lever {lever:56s} {name:18s} {row['ratio']:7.2f}x  ({on['tokens_per_s']:,.0f} vs "
        f"{off['tokens_per_s']:,.0f} tok/s)"
    )
    return row


def _mem(x: float | None) -> str:
    return "   -  " if x is None else f"{x:6.2f}"


def _ktok(x: float | None) -> str:
    return "      OOM" if x is None else f"{x / 1e3:9.2f}"


def _print_row(r: dict[str, Any]) -> None:
    b, o = r["baseline"], r["ours"]
    ob = "  n/a" if r["ratio_ours_vs_baseline"] is None else f"{r['ratio_ours_vs_baseline']:5.2f}"
    vs = "" if r["ratio_ours_vs_paper"] is None else f"{r['ratio_ours_vs_paper']:6.2f}x"
    print(
        f"{r['model']:17s} {r['method']:7s} {o['trainable_params'] / 1e6:9.2f}M ({r['paper_trainable']:>8s}) "
        f"mem {_mem(b['peak_mem_gb'])}/{_mem(o['peak_mem_gb'])} ({r['paper_peak_mem_gb']:5.2f}) GB  "
        f"Ktok/s {_ktok(b['tokens_per_s'])}/{_ktok(o['tokens_per_s'])} ({r['paper_ktok_s']:8.2f}) "
        f"ours/base {ob}x  ours/paper {vs}"
        + ("  (gradient checkpointing)" if o["levers"].get("ckpt") else "")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu", action="store_true", help="reduced sizes on the CPU (default without CUDA)")
    ap.add_argument("--only", nargs="*", help="row names to run (e.g. DNABERT-2 NT-v2)")
    ap.add_argument("--steps", type=int, default=None, help="measured steps per cell (GPU 10, CPU 3)")
    ap.add_argument(
        "--warmup", type=int, default=None, help="unmeasured steps first, compilation included (GPU 2, CPU 1)"
    )
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="measure a cell at most this long, at least 2 steps (GPU 5; keeps one H100 run under 8 minutes)",
    )
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--compile", action="store_true", help="torch.compile the task model (GPU)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads")
    ap.add_argument("--output", help="JSON path (default benchmarks/results/table2_{gpu,cpu}.json)")
    ap.add_argument(
        "--peak-tflops", type=float, default=989.0, help="accelerator peak for MFU (H100 SXM bf16 dense)"
    )
    a = ap.parse_args()
    gpu = torch.cuda.is_available() and not a.cpu
    torch.set_num_threads(a.threads)
    run = Run(
        "paper" if gpu else "reduced",
        torch.device("cuda" if gpu else "cpu"),
        a.batch,
        a.steps or (10 if gpu else 3),
        a.warmup if a.warmup is not None else (2 if gpu else 1),
        a.max_seconds or (5.0 if gpu else 1e9),
    )
    name = torch.cuda.get_device_name() if gpu else platform.processor() or platform.machine()
    print(f"device {name}; sizes {run.sizes}; batch {run.batch}; {run.warmup}+{run.steps} steps per cell")
    print(
        "columns: trainable (paper) | peak mem baseline/ours (paper) | K tokens/s baseline/ours (paper) | ratios"
    )
    t0 = time.perf_counter()
    dest = Path(a.output) if a.output else RESULTS / f"table2_{'gpu' if gpu else 'cpu'}.json"
    head = {
        "device": name,
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__,
        "sizes": run.sizes,
        "batch": run.batch,
        "steps": run.steps,
        "warmup": run.warmup,
        "threads": a.threads,
        "compile": a.compile,
    }

    def save(res: dict[str, Any], complete: bool = False) -> dict[str, Any]:
        if gpu:
            for r in res["rows"]:
                if r["ours"]["tokens_per_s"]:
                    r["ours"]["mfu"] = r["ours"]["model_tflops"] / a.peak_tflops
        out = {**head, "seconds": time.perf_counter() - t0, "complete": complete, **res}
        with atomic_path(dest, suffix=".json") as tmp:
            tmp.write_text(json.dumps(out, indent=1))
        return out

    out = save(table(run, a.only, a.compile, save), complete=True)
    print(f"wrote {dest} ({out['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
