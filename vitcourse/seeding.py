"""One way to seed: every random stream of a run is re-seeded from ``stream_seed(seed, stream, *ids)``.

A stream is named after what it draws, and ``ids`` say which draw:

- ``"subset"``, ids ``(class,)``: the order of one class's samples when a subset is taken;
- ``"order"``, ids ``(epoch,)``: one epoch's shuffle; ``"balanced"``, ``(epoch,)``: its class-balanced draw;
- ``"augment"``, ids ``(epoch, batch)``: the augmentation parameters of one global batch;
- ``"epoch"``, ids ``(epoch, rank)``: the global RNGs (dropout, drop-path masks) for one epoch of one rank.

Re-seeding every draw from these numbers, rather than carrying generator state along, is what makes
a resumed run bitwise equal to an uninterrupted one without saving any RNG state, and the subsets
of one seed nested. Nearby inputs must give unrelated streams; the three mixings below do that in
three ways only because committed results (data subsets, loader orders, training runs) were drawn
with them, and a new mixing would change every one of those numbers.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch

STREAMS = ("subset", "order", "balanced", "augment", "epoch")


def stream_seed(seed: int, stream: str, *ids: int) -> int:
    """The seed of one random draw of stream ``stream`` for a run seeded ``seed`` (see above)."""
    parts = (int(seed), *(int(i) for i in ids))
    if stream == "subset":  # distinct per (seed, class) for any class count below a million
        return parts[0] * 1_000_003 + parts[1]
    if stream == "epoch":  # NumPy's SeedSequence, cut to 63 bits
        state = np.random.SeedSequence(list(parts)).generate_state(2, dtype=np.uint32)
        return (int(state[0]) << 31) ^ int(state[1])
    if stream in ("order", "balanced", "augment"):
        if stream == "balanced":  # its own id, so it never repeats a batch's augmentation stream
            parts += (-1,)
        digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") >> 1
    raise ValueError(f"unknown random stream {stream!r}; known: {', '.join(STREAMS)}")


def generator(seed: int, stream: str, *ids: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded for one draw of ``stream``."""
    return torch.Generator().manual_seed(stream_seed(seed, stream, *ids))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every CUDA device); call before building a model."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds all CUDA devices


def seed_epoch(seed: int, epoch: int, rank: int) -> None:
    """Seed all global generators for one epoch of one rank (``epoch`` 0-based); ranks differ so
    their dropout masks do."""
    seed_everything(stream_seed(seed, "epoch", epoch, rank))
