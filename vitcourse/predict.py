"""Class predictions of a model over a set of images, batched, and how often two sets agree:
shared by the chapters that score, compare and probe trained models (inspect, light)."""

from __future__ import annotations

import torch


@torch.no_grad()
def predictions(model, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Predicted classes (CPU int64) of normalised images, by `model` in evaluation mode on its own
    device (its training mode is restored afterwards)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters(), torch.empty(0)).device
    try:
        return torch.cat([model(images[i:i + batch_size].to(device)).argmax(1).cpu()
                          for i in range(0, len(images), batch_size)] or [torch.empty(0, dtype=torch.long)])
    finally:
        model.train(was_training)


def fraction_equal(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.cpu() == b.cpu()).sum().item() / max(len(a), 1)
