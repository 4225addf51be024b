"""Segmentation + QC throughput of the Genome Collector, in Mbp/s on one core.

Builds a ~50 Mbp FASTA from the real genomes in ../shared/data/genomes (tiled, alternating strands), then times
reading it, sampling fragments (uniform 500-1000 bp, 1x coverage) and the default QC steps. Prints a table and
writes JSON. Usage: ``python benchmarks/collect_throughput.py [--mbp 50] [--out benchmarks/collect_throughput.json]``.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mbp", type=float, default=50.0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "collect_throughput.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fasta = Path(tmp) / "bench.fa"
        bases = make_fasta(fasta, args.mbp)
        rng = np.random.default_rng(0)
        t0 = time.perf_counter()
        contigs = read_genome(fasta)
        t1 = time.perf_counter()
        n = int(bases / 750)
        batch = sample_fragments(contigs, n, 500, 1000, 0, rng)
        t2 = time.perf_counter()
        kept, report = run_qc(batch, QCConfig(), rng)
        t3 = time.perf_counter()
    frag_bases = int(batch.lengths.sum())
    rows = {"read": t1 - t0, "segment": t2 - t1, "qc": t3 - t2, "segment+qc": t3 - t1, "total": t3 - t0}
    steps = {e["step"]: e["removed"] for e in report}
    print(f"genome {bases / 1e6:.1f} Mbp, {n} fragments ({frag_bases / 1e6:.1f} Mbp), kept {len(kept)}")
    print(f"{'phase':<12}{'seconds':>10}{'Mbp/s':>10}")
    for phase, sec in rows.items():
        print(f"{phase:<12}{sec:>10.3f}{bases / 1e6 / sec:>10.1f}")
    result = {"genome_mbp": bases / 1e6, "fragments": n, "fragment_mbp": frag_bases / 1e6, "kept": len(kept),
              "seconds": rows, "mbp_per_s": {k: bases / 1e6 / v for k, v in rows.items()}, "removed": steps}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
