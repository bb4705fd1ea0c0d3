"""Data-parallel training under ``torchrun`` (DDP over gloo on CPU): rank, world size, the
wrapped model and the sums across ranks; a no-op in a single process."""

from __future__ import annotations

import os

import torch
from torch import nn


class Distributed:
    """Rank and world size from torchrun's environment; a no-op in a single process."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        if self.world == 1:
            return model
        return nn.parallel.DistributedDataParallel(model)

    def sum(self, values: list[float]) -> list[float]:
        if self.world == 1:
            return values
        tensor = torch.tensor(values, dtype=torch.float64)
        torch.distributed.all_reduce(tensor)
        return tensor.tolist()

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()
