"""Losses and measurements for long-tailed training sets.

- `class_weights`: w_c proportional to (N / N_c)^power, scaled so that the average weight over the
  training *samples* is 1. Rare classes then count more per sample, while the loss keeps the size
  plain cross-entropy has (so the same learning rate stays sensible). power=1 gives
  w_c = N / (K N_c), the usual "balanced" weighting.
- `weighted_ce_objective`: cross-entropy with those weights, mean over the batch.
- `ohem_objective`: online hard example mining -- per-sample cross-entropy, back-propagate only
  the `keep` fraction of the batch with the largest losses (hard samples are disproportionately
  from rare classes, so this reweights without knowing the class counts).
- `confusion_matrix`, `per_class_accuracy`, `balanced_accuracy`: evaluation per class. On
  CIFAR-10's balanced test set balanced accuracy equals plain accuracy; per-class recall is what
  shows the tail.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def class_weights(counts, power: float = 1.0) -> torch.Tensor:
    """Per-class loss weights from training counts N_c (see the module docstring)."""
    counts = torch.as_tensor(counts, dtype=torch.float64)
    if counts.ndim != 1 or (counts <= 0).any():
        raise ValueError(f"counts must be positive per-class training counts, got {counts.tolist()}: "
                         f"a class without training samples cannot be weighted.")
    raw = (counts.sum() / counts) ** power
    raw = raw / (raw * counts).sum() * counts.sum()   # sample-average weight = 1
    return raw.float()


def per_sample_ce(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    return F.cross_entropy(logits.float(), targets, reduction="none", label_smoothing=label_smoothing)


def weighted_ce_objective(weights: torch.Tensor, label_smoothing: float = 0.0):
    """objective(net, images, targets) for `fit`: mean over the batch of w[y] * CE."""
    def objective(net, images, targets):
        logits = net(images)
        w = weights.to(logits.device)
        sample_w = w[targets] if targets.ndim == 1 else targets.float() @ w  # soft targets: expected weight
        return (sample_w * per_sample_ce(logits, targets, label_smoothing)).mean(), logits
    return objective


def hardest(losses: torch.Tensor, keep: float) -> torch.Tensor:
    """The ceil(keep * B) largest per-sample losses."""
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep={keep} must be in (0, 1]: the fraction of the batch to train on.")
    k = max(1, math.ceil(keep * losses.numel()))
    return losses.topk(k).values


def ohem_objective(keep: float = 0.5, label_smoothing: float = 0.0):
    """objective(net, images, targets): mean cross-entropy over the hardest `keep` of the batch."""
    def objective(net, images, targets):
        logits = net(images)
        return hardest(per_sample_ce(logits, targets, label_smoothing), keep).mean(), logits
    return objective


@torch.no_grad()
def confusion_matrix(model: nn.Module, loader, num_classes: int, device=None) -> np.ndarray:
    """counts[true, predicted] over every batch of `loader` (images already normalised)."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    counts = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for images, labels in loader:
        pred = model(images.to(device)).argmax(dim=1).cpu()
        counts += torch.bincount(labels.cpu() * num_classes + pred, minlength=num_classes ** 2).view(num_classes, -1)
    model.train(was_training)
    return counts.numpy()


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Recall of each class: correct / test samples of that class."""
    confusion = np.asarray(confusion)
    return np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)


def balanced_accuracy(confusion: np.ndarray) -> float:
    return float(per_class_accuracy(confusion).mean())
