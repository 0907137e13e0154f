"""A tiny in-memory loader of ready float tensors, implementing the training protocol.

Tests and the DDP self-test (tests/ddp_selftest.py) use it; the book trains with ``vitcourse.data``'s loader, which
follows the same conventions (and adds uint8 storage on the GPU and batched augmentation).

It is the reference for what ``fit`` expects of a loader: deterministic given (seed, epoch), and
sharded so that the ranks' batches at step i together form exactly the global batch at step i of a
single-process run. That property is what lets a 2-process run be compared with a 1-process one.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


class InMemoryLoader:
    """Batches of ``(images[idx], targets[idx])`` from tensors already in memory.

    ``batch_size`` is the global batch; rank r takes rows ``r::world_size`` of every global
    batch. ``drop_last`` drops a final partial global batch (keep it for test sets so every
    sample is counted once).
    """

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, batch_size: int, *,
                 shuffle: bool = True, seed: int = 0, rank: int = 0, world_size: int = 1,
                 drop_last: bool = True):
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} targets")
        self.images, self.targets = images, targets
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        full, rest = divmod(len(self.images), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def _order(self) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(len(self.images))
        # A private generator: the order depends on (seed, epoch) only, never on global RNG state.
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(len(self.images), generator=gen)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self._order()
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size][self.rank::self.world_size]
            yield self.images[idx], self.targets[idx]
