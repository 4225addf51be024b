"""The measured side of the planner's check: peak CPU memory of one training step, from torch.profiler.

``torch.profiler`` with ``profile_memory=True`` records every allocation and free of the CPU allocator with the
running total ("Total Allocated") in its trace. The activation peak of a training step is the highest total
during forward + backward minus the total before the forward pass. Parameter gradients are allocated by a
warm-up step first (kept, zeroed), so they are part of the baseline and not counted as activations; dropout is
off so nothing random changes the graph.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile


def measured_activation_peak(family: Any, config: dict[str, Any], batch: int, length: int) -> int:
    torch.manual_seed(0)
    base = family.base(family.build(config))
    base.train()
    for m in base.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    ids = torch.randint(5, 9, (batch, length))

    def step() -> None:
        out = family.encode(base, ids, None).last_hidden_state
        out.float().pow(2).mean().backward()

    step()  # allocates every .grad: part of the baseline below
    for p in base.parameters():
        if p.grad is not None:
            p.grad.zero_()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.json"
        prof.export_chrome_trace(str(path))
        events = json.loads(path.read_text())["traceEvents"]
    memory = sorted((e for e in events if e.get("name") == "[memory]"), key=lambda e: e["ts"])
    totals = [int(e["args"]["Total Allocated"]) for e in memory]
    before = totals[0] - int(memory[0]["args"]["Bytes"])
    return max(totals) - before
