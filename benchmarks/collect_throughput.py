"""Segmentation + QC throughput of the Genome Collector, in Mbp/s on one core.

Builds a ~50 Mbp FASTA from the real genomes in ../shared/data/genomes (tiled, alternating strands), then times
reading it, sampling fragments (uniform 500-1000 bp, 1x coverage) and the default QC steps (also per step).
Each phase is the best of ``--repeat`` runs (same seed, same result), since the machine may be shared. Prints a
table and writes JSON. Usage:
``python benchmarks/collect_throughput.py [--mbp 50] [--repeat 3] [--out benchmarks/collect_throughput.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from genomefactory.collect import qc
from genomefactory.collect.config import QCConfig
from genomefactory.collect.qc import run_qc
from genomefactory.collect.segment import read_genome, sample_fragments

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GENOMEFACTORY_SHARED_DATA", ROOT.parent / "shared" / "data")) / "genomes"
SOURCES = ["GCF_001457455.1_NCTC11397_genomic.fna.gz", "NC_000932.gb", "lambda_NC_001416.1.fasta.gz"]
_RC = bytes.maketrans(b"ACGTN", b"TGCAN")


def make_fasta(path: Path, mbp: float) -> int:
    parts = [c.seq.tobytes() for name in SOURCES for c in read_genome(DATA / name)]
    target, total, k = int(mbp * 1e6), 0, 0
    with open(path, "wb") as fh:
        while total < target:
            seq = parts[k % len(parts)]
            seq = seq if (k // len(parts)) % 2 == 0 else seq.translate(_RC)[::-1]
            seq = seq[: target - total]
            fh.write(f">contig{k}\n".encode())
            fh.writelines(seq[i : i + 80] + b"\n" for i in range(0, len(seq), 80))
            total += len(seq)
            k += 1
    return total


def timed_steps(seconds: dict[str, float]) -> None:
    """Wrap the QC steps so each adds its time to ``seconds`` (benchmark only)."""
    for name, fn in list(qc.STEPS.items()):

        def wrapper(b, cfg, rng, _fn=fn, _name=name):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return _fn(b, cfg, rng)
            finally:
                seconds[_name] = seconds.get(_name, 0.0) + time.perf_counter() - t

        qc.STEPS[name] = wrapper


def run_once(fasta: Path, bases: int) -> tuple[dict[str, float], dict[str, float], dict[str, object]]:
    step_s: dict[str, float] = {}
    timed_steps(step_s)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    contigs = read_genome(fasta)
    t1 = time.perf_counter()
    n = int(bases / 750)
    batch = sample_fragments(contigs, n, 500, 1000, 0, rng)
    t2 = time.perf_counter()
    kept, report = run_qc(batch, QCConfig(), rng)
    t3 = time.perf_counter()
    rows = {"read": t1 - t0, "segment": t2 - t1, "qc": t3 - t2, "segment+qc": t3 - t1, "total": t3 - t0}
    info = {
        "fragments": n,
        "fragment_mbp": int(batch.lengths.sum()) / 1e6,
        "kept": len(kept),
        "removed": {e["step"]: e["removed"] for e in report},
    }
    return rows, step_s, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mbp", type=float, default=50.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "collect_throughput.json")
    args = ap.parse_args()
    originals = dict(qc.STEPS)
    with tempfile.TemporaryDirectory() as tmp:
        fasta = Path(tmp) / "bench.fa"
        bases = make_fasta(fasta, args.mbp)
        runs = []
        for _ in range(max(1, args.repeat)):
            runs.append(run_once(fasta, bases))
            qc.STEPS.update(originals)
    rows = {k: min(r[0][k] for r in runs) for k in runs[0][0]}
    steps = {k: min(r[1][k] for r in runs) for k in runs[0][1]}
    info = runs[0][2]
    assert all(r[2] == info for r in runs), "repeated runs gave different results"
    mbp = bases / 1e6
    print(
        f"genome {mbp:.1f} Mbp, {info['fragments']} fragments ({info['fragment_mbp']:.1f} Mbp), kept {info['kept']}"
    )
    print(f"{'phase':<18}{'seconds':>10}{'Mbp/s':>10}   (best of {len(runs)})")
    for phase, sec in {**rows, **{f"  qc:{k}": v for k, v in steps.items()}}.items():
        print(f"{phase:<18}{sec:>10.3f}{mbp / sec if sec > 0 else float('inf'):>10.1f}")
    result = {
        "genome_mbp": mbp,
        **info,
        "repeat": len(runs),
        "seconds": rows,
        "qc_step_seconds": steps,
        "mbp_per_s": {k: mbp / v for k, v in rows.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
