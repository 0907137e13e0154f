"""Accuracy and CPU latency of a model, measured the same way for every variant we compare."""

from __future__ import annotations

import statistics
import time

import torch

from vitcourse.predict import fraction_equal, predictions


def accuracy(model, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 256) -> float:
    """Top-1 accuracy of `model` (in evaluation mode) on normalised images, on the model's device."""
    return fraction_equal(predictions(model, images, batch_size), labels)


@torch.inference_mode()
def cpu_latency_ms(model, input_shape, batch: int = 1, repeats: int = 20, warmup: int = 3) -> float:
    """Median wall-clock milliseconds of one forward pass of `batch` images on the CPU.

    The median, not the mean: on a shared machine a few calls are slowed by other processes,
    and the median ignores them. Threads: whatever torch.get_num_threads() says (record it).
    """
    model = model.eval()
    x = torch.randn(batch, *input_shape)
    for _ in range(warmup):
        model(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)
