"""A seconds-long training run for checking multi-process training on any machine.

    PYTHONPATH=tests python -m torch.distributed.run --nproc_per_node=2 -m ddp_selftest RUN_DIR
    PYTHONPATH=tests python -m ddp_selftest RUN_DIR        # the same run in one process

Add ``--stop-after-epoch 1`` to stop early, then launch again to resume (on all ranks).

Both launches train the same model on the same global batches (the loader splits each global
batch between ranks), so without BatchNorm or dropout their metrics and weights agree up to
floating-point summation order. The test suite runs both and compares.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from memory_loader import InMemoryLoader

from vitcourse.train import TrainConfig, fit, init_distributed, seed_everything, shutdown_distributed

NUM_CLASSES, TRAIN_SIZE, TEST_SIZE, GLOBAL_BATCH = 3, 96, 50, 16


def synthetic_data(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Noisy 3x8x8 images whose class sets the mean of one colour channel: learnable in seconds."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, NUM_CLASSES, (TRAIN_SIZE + TEST_SIZE,), generator=gen)
    images = torch.randn(TRAIN_SIZE + TEST_SIZE, 3, 8, 8, generator=gen)
    images[torch.arange(len(labels)), labels] += 0.5
    return images[:TRAIN_SIZE], labels[:TRAIN_SIZE], images[TRAIN_SIZE:], labels[TRAIN_SIZE:]


def selftest_parts(epochs: int = 3, seed: int = 0, device: str | None = None,
                   time_budget_min: float | None = None):
    """(model, train loader, test loader, config) sharded for this process's rank."""
    ctx = init_distributed(device)
    x_train, y_train, x_test, y_test = synthetic_data(seed)
    train = InMemoryLoader(x_train, y_train, GLOBAL_BATCH, seed=seed, rank=ctx.rank,
                         world_size=ctx.world_size)
    # Test set: no shuffling, keep the partial last batch, so 50 samples are counted exactly once.
    test = InMemoryLoader(x_test, y_test, GLOBAL_BATCH, shuffle=False, drop_last=False,
                        rank=ctx.rank, world_size=ctx.world_size)
    seed_everything(seed)  # identical initial weights on every rank
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 32), nn.GELU(),
                          nn.LayerNorm(32), nn.Linear(32, NUM_CLASSES))
    config = TrainConfig(epochs=epochs, batch_size=GLOBAL_BATCH, lr=3e-3,
                         warmup_epochs=1 if time_budget_min is None else 3,
                         label_smoothing=0.1, grad_clip=1.0, seed=seed, time_budget_min=time_budget_min)
    return model, train, test, config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu (gloo) or cuda (nccl)")
    parser.add_argument("--stop-after-epoch", type=int, default=None,
                        help="return early (status 'running'); run again to resume")
    parser.add_argument("--time-budget-min", type=float, default=None,
                        help="train as many of --epochs as fit (rank 0 decides for all)")
    args = parser.parse_args(argv)
    model, train, test, config = selftest_parts(args.epochs, device=args.device,
                                                time_budget_min=args.time_budget_min)
    log = fit(model, train, test, config, args.run_dir, progress=False,
              stop_after_epoch=args.stop_after_epoch)
    ctx = init_distributed(args.device)
    last = log["epochs"][-1]
    print(f"rank {ctx.rank}/{ctx.world_size}: status {log['status']}, test acc "
          f"{last['test_acc']:.3f} over {last['test_samples']} samples, {len(log['epochs'])} epochs",
          flush=True)
    shutdown_distributed()


if __name__ == "__main__":
    main()
