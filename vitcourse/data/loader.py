"""`TensorLoader`: batches straight from tensors that live on the training device.

CIFAR-10 is 184 MB as uint8, so the whole dataset sits on the GPU and a batch is an index
select plus the batched augmentation: no worker processes, no host-to-device copies per step.

Determinism: the order of an epoch depends only on (seed, epoch), and each batch's augmentation
on (seed, epoch, batch index), so ``set_epoch(e)`` reproduces epoch e exactly -- a resumed run
sees the same batches as an uninterrupted one. Sharding: ``batch_size`` is the *global* batch;
rank r of ``world_size`` yields rows ``r::world_size`` of every global batch, so the ranks'
shards are disjoint, equal in size, and together equal the single-process batch (augmentation
included: random parameters are drawn per global position).

Sampling: ``"uniform"`` visits every sample once per epoch in a random order;
``"class_balanced"`` draws as many indices with replacement, every class equally likely (for
long-tailed training sets); ``"repeated"`` is repeated augmentation (Hoffer et al. 2020, as in
DeiT): a third of the images, each three times in a row, so every batch holds three differently
augmented copies of each of its images. All orders are global, drawn on the CPU from (seed, epoch)
alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..seeding import generator, stream_seed
from .augment import PRESETS, AugmentConfig, BatchPlan, GpuAugment, plan_batch
from .datasets import ImageDataset

SAMPLINGS = ("uniform", "class_balanced", "repeated")
REPEATS = 3   # copies of each image under repeated augmentation (DeiT's choice)


class TensorLoader:
    """Yields ``(images, targets)``: float ``N x C x H x W`` on ``device`` and int64 labels,
    or float soft targets ``N x K`` when ``augment`` mixes (Mixup/CutMix).

    ``augment=None`` only scales to [0, 1]; pass a ``GpuAugment`` (train or evaluation view)
    to normalise, or build the loader with ``TensorLoader.from_dataset``. Call
    ``set_epoch(epoch)`` before each epoch, as with ``DistributedSampler``: without it every
    epoch repeats epoch 0's order.

    ``sampling``: ``"uniform"`` (a permutation per epoch, or the dataset order when
    ``shuffle=False``) or ``"class_balanced"`` (``len(images)`` draws with replacement, each
    class equally likely and each image uniformly likely within its class; needs ``shuffle``) or
    ``"repeated"`` (``len(images) / REPEATS`` images of the epoch's permutation, each ``REPEATS``
    times in a row, so that every copy gets its own augmentation; needs ``shuffle``).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                 shuffle: bool = True, drop_last: bool = True, seed: int = 0,
                 device: torch.device | str = "cpu", augment: GpuAugment | None = None,
                 rank: int = 0, world_size: int = 1, sampling: str = "uniform"):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 N x C x H x W, got {images.dtype} {tuple(images.shape)}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in 0..{world_size - 1} (world_size {world_size})")
        if batch_size < 1 or batch_size % world_size:
            raise ValueError(f"batch_size is the global batch and must be a positive multiple of "
                             f"world_size={world_size}, got {batch_size}")
        if drop_last and len(images) < batch_size:
            raise ValueError(f"only {len(images)} samples for batch_size {batch_size} with "
                             "drop_last=True: no batch would be produced; lower batch_size")
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {list(SAMPLINGS)}, got {sampling!r}")
        if sampling != "uniform" and not shuffle:
            raise ValueError(f"sampling={sampling!r} draws a random order, which contradicts "
                             "shuffle=False; pass shuffle=True or sampling='uniform'")
        self.sampling = sampling
        # Per-sample draw weights on the CPU, where the balanced order is drawn.
        self._weights = balanced_weights(labels) if sampling == "class_balanced" else None
        self.device = torch.device(device)
        # Moved once; on a GPU the uint8 images stay resident for the whole run.
        self.images = images.to(self.device)
        self.labels = labels.to(self.device, torch.long)
        self.batch_size, self.shuffle, self.drop_last, self.seed = batch_size, shuffle, drop_last, seed
        self.augment, self.rank, self.world_size = augment, rank, world_size
        self.epoch = 0
        self._plans: dict[int, BatchPlan] = {}
        self._generator = torch.Generator(device=self.device)

    @classmethod
    def from_dataset(cls, dataset: ImageDataset, split: str, batch_size: int,
                     augment: AugmentConfig = PRESETS["none"],
                     sampling: str = "uniform", compile_augment: bool = False,
                     **kwargs) -> "TensorLoader":
        """A loader over ``dataset``'s ``"train"`` or ``"test"`` split, normalised with its stats.

        Train: shuffled, last partial batch dropped, ``augment`` applied. Test: in order, every sample kept, only the deterministic part
        of ``augment`` (resize) applied. ``sampling`` applies to the train split only: the test
        split must visit every sample once. ``compile_augment``: compile the train split's
        augmentation (see ``GpuAugment``), for compiled runs on a GPU. ``kwargs``
        (device, seed, rank, world_size, shuffle, drop_last) pass through.
        """
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        train = split == "train"
        if not train and sampling != "uniform":
            raise ValueError(f"sampling={sampling!r} is for the train split; the test split is "
                             "evaluated once per sample: pass sampling='uniform' (the default)")
        kwargs.setdefault("shuffle", train)
        kwargs.setdefault("drop_last", train)
        transform = GpuAugment.for_dataset(dataset, augment, train=train, compile=compile_augment)
        images = dataset.train_images if train else dataset.test_images
        labels = dataset.train_labels if train else dataset.test_labels
        return cls(images, labels, batch_size, augment=transform, sampling=sampling, **kwargs)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        full, rest = divmod(len(self.images), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def _order(self) -> torch.Tensor:
        n = len(self.images)
        if not self.shuffle:
            return torch.arange(n, device=self.device)
        # Drawn on the CPU so the order is identical on every device type and every rank.
        if self._weights is None:
            order = torch.randperm(n, generator=generator(self.seed, "order", self.epoch))
            if self.sampling == "repeated":   # the epoch keeps its length: fewer images, more views
                order = order[:-(-n // REPEATS)].repeat_interleave(REPEATS)[:n]
        else:
            gen = generator(self.seed, "balanced", self.epoch)
            order = torch.multinomial(self._weights, n, replacement=True, generator=gen)
        if self.device.type == "cuda":  # a pinned, asynchronous copy does not stall the GPU queue
            return order.pin_memory().to(self.device, non_blocking=True)
        return order.to(self.device)

    def _plan(self, batch_len: int) -> BatchPlan:
        if batch_len not in self._plans:
            mixing = self.augment is not None and self.augment.soft_targets
            self._plans[batch_len] = plan_batch(batch_len, self.rank, self.world_size, mixing, self.device)
        return self._plans[batch_len]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order, n = self._order(), len(self.images)
        shape = tuple(self.images.shape[1:])
        for b in range(len(self)):
            start = b * self.batch_size
            batch_len = min(self.batch_size, n - start)
            plan = self._plan(batch_len)
            rows = order[start:start + batch_len][plan.positions]
            images, labels = self.images[rows], self.labels[rows]
            if self.augment is None:
                yield images.float().div_(255), labels
                continue
            self._generator.manual_seed(stream_seed(self.seed, "augment", self.epoch, b))
            params = self.augment.sample(batch_len, shape, self._generator, self.device)
            yield self.augment.apply(images, labels, params, plan)


def balanced_weights(labels: torch.Tensor) -> torch.Tensor:
    """Per-sample weights ``1 / N_class`` (float64, CPU): every class gets the same total weight."""
    labels = labels.detach().to("cpu", torch.long)
    counts = torch.bincount(labels)
    return 1.0 / counts[labels].double()
