"""This process's place among ``torchrun`` / ``accelerate launch`` workers, and the little synchronisation the
library needs outside the Hugging Face Trainer (which runs its own DDP).

A single process is rank 0 of a world of 1: nothing is initialised and every collective is a no-op, so code
written against :class:`Ranks` runs unchanged without a launcher. Under a launcher (``WORLD_SIZE`` > 1) the default
process group is initialised on first use (nccl with CUDA, gloo otherwise) from the launcher's environment.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

import torch

__all__ = ["Ranks"]

T = TypeVar("T")


class Ranks:
    """Rank, world size and collectives of this process (a single process: rank 0 of 1, no synchronisation)."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if self.world > 1:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
            self.world, self.rank = dist.get_world_size(), dist.get_rank()

    @property
    def main(self) -> bool:
        """True on global rank 0, the one process that writes shared outputs."""
        return self.rank == 0

    def device(self, wanted: str | None, fallback: torch.device) -> torch.device:
        """``wanted`` if given; ``cuda:<LOCAL_RANK>`` under a launcher with CUDA; else ``fallback``."""
        if wanted:
            return torch.device(wanted)
        if self.world > 1 and torch.cuda.is_available():
            return torch.device("cuda", self.local_rank)
        return fallback

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def total(self, values: list[int]) -> list[int]:
        """Element-wise sum of ``values`` over all ranks."""
        if self.world == 1:
            return values
        import torch.distributed as dist

        on = torch.device("cuda", self.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")
        t = torch.tensor(values, dtype=torch.long, device=on)
        dist.all_reduce(t)
        return [int(x) for x in t.tolist()]

    def share(self, value: T) -> T:
        """Rank 0's ``value`` (any picklable object) on every rank, so that all ranks take the same decision."""
        if self.world == 1:
            return value
        import torch.distributed as dist

        box: list[Any] = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]  # type: ignore[no-any-return]

    def my_slice(self, n: int) -> slice:
        """This rank's contiguous share of ``n`` items (shares differ by at most one item)."""
        return slice(n * self.rank // self.world, n * (self.rank + 1) // self.world)
