"""Building blocks shared by the test files: paths, the micro experiment, random batches, torchrun.

A plain module (not a fixture file) because the torchrun subprocesses import it too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from vitcourse.lab import Experiment

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
SHARED_CIFAR = REPO.parent / "shared/data/cifar10-jpeg75.tar.gz"

# The smallest real experiment: a 1-layer D=32 ViT on 1% of CIFAR-10 (500 images), one epoch.
MICRO_MODEL = dict(arch="vit", patch_size=8, dim=32, depth=1, heads=2, mlp_ratio=2.0)
MICRO_DATA = dict(dataset="cifar10", fraction=0.01, augment="basic")
MICRO_TRAIN = dict(epochs=1, batch_size=50, warmup_epochs=0, amp="none")
TINY = Experiment(
    name="_test_tiny", chapter="tests", description="1-epoch micro ViT on 1% of CIFAR-10",
    base=dict(model=MICRO_MODEL, data=MICRO_DATA, train=MICRO_TRAIN),
    smoke=dict(), full=dict(train=dict(epochs=2)), seeds={"smoke": (0,), "full": (0, 1)})


def gen(seed: int = 0, device: str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def uint8_batch(n: int = 64, seed: int = 0, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """n random uint8 RGB images (size x size) and labels 0-9, from one seeded generator."""
    g = gen(seed)
    images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    return images, torch.randint(0, 10, (n,), generator=g)


def torchrun(args: list[str], env: dict | None = None, nproc: int = 2, timeout: int = 300):
    """`python -m torch.distributed.run --standalone` with `args`, from the repository root, in an
    environment without an enclosing launch's RANK/WORLD_SIZE/... (--standalone picks a free port,
    so parallel test runs cannot collide)."""
    env = {k: v for k, v in (env or os.environ).items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc_per_node={nproc}", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
