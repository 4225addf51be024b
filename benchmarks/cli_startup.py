"""CLI start-up time: ``--help``, ``models`` and ``COMMAND --help`` in fresh processes (issue 12 target: < 1.5 s).

Each case runs ``--repeats`` times in a new interpreter; the table gives the median and best wall time and whether
torch / transformers / gradio were imported (they must not be). Beside it, the cost of ``import torch`` and
``import transformers`` alone, for scale. Writes ``benchmarks/results/cli_startup.json``.

    .venv/bin/python benchmarks/cli_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HEAVY = ("torch", "transformers", "gradio", "peft")
PROBE = (
    "import sys, runpy\n"
    "sys.argv = ['genomefactory-cli', *{args!r}]\n"
    "from genomefactory.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "heavy = [m for m in {heavy!r} if m in sys.modules]\n"
    "sys.stderr.write('HEAVY=' + ','.join(heavy) + '\\n')\n"
    "sys.exit(code)\n"
)


def _time(code: str) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"probe failed ({proc.returncode}): {proc.stderr[-2000:]}")
    heavy = next((ln[6:] for ln in proc.stderr.splitlines() if ln.startswith("HEAVY=")), "")
    return seconds, heavy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--output", default=str(Path(__file__).parent / "results" / "cli_startup.json"))
    args = ap.parse_args()
    cases = {
        "--help": ["--help"],
        "models": ["models"],
        **{f"{c} --help": [c, "--help"] for c in ("train", "inference", "benchmark", "process", "webui")},
    }
    rows = []
    for name, argv in cases.items():
        times, heavy = [], ""
        for _ in range(args.repeats):
            t, heavy = _time(PROBE.format(args=argv, heavy=HEAVY))
            times.append(t)
        rows.append(
            {"case": name, "median_s": statistics.median(times), "best_s": min(times), "heavy": heavy}
        )
    base = {}
    for mod in ("torch", "transformers"):
        base[mod] = statistics.median(_time(f"import {mod}")[0] for _ in range(args.repeats))
    print(f"{'case':<22} {'median s':>9} {'best s':>8}  heavy modules imported")
    for r in rows:
        print(f"{r['case']:<22} {r['median_s']:>9.2f} {r['best_s']:>8.2f}  {r['heavy'] or '-'}")
    print(f"for scale: import torch {base['torch']:.2f} s, import transformers {base['transformers']:.2f} s")
    out = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "repeats": args.repeats,
        "target_s": 1.5,
        "rows": rows,
        "import_alone_s": base,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
