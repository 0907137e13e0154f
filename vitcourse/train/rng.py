"""Seeding. Every epoch starts from RNG states derived from (seed, epoch, rank).

Re-seeding at each epoch start, rather than carrying RNG state across epochs, is what makes a
resumed run bitwise equal to an uninterrupted one without saving any generator state: epoch k
draws the same dropout / drop-path masks (and any augmentation drawn from global RNGs) whether or
not the process was restarted before it. Ranks get different streams so their masks differ.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def derive_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from several integers (nearby inputs give unrelated streams)."""
    state = np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every CUDA device); call before building a model."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds all CUDA devices


def seed_epoch(seed: int, epoch: int, rank: int) -> None:
    """Seed all global generators for one epoch of one rank (``epoch`` 0-based)."""
    seed_everything(derive_seed(seed, epoch, rank))
