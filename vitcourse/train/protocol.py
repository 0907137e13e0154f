"""The minimal loader interface ``fit`` relies on (structural typing: no base class needed).

A training loader must:
- ``set_epoch(epoch)``: fix this epoch's shuffling/augmentation; the same (seed, epoch) must give
  the same batches, which is what makes a resumed run equal an uninterrupted one;
- ``__len__``: batches per epoch *on this rank*, equal on every rank (unequal counts would leave
  one rank waiting forever in DistributedDataParallel's gradient all-reduce);
- iterate ``(images, targets)``: float images ``N x C x H x W``; targets either int64 class
  labels ``N`` or float soft targets ``N x K`` (rows sum to 1, e.g. from Mixup/CutMix), *without*
  label smoothing (``TrainConfig.label_smoothing`` is applied in the loss, to both kinds).

Under ``torchrun`` each rank's loader yields its own shard. For exact test metrics the test
loader's shards should partition the test set (no padding duplicates); its ``set_epoch`` and
``__len__`` are optional.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class TrainLoader(Protocol):
    def set_epoch(self, epoch: int) -> None: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...
