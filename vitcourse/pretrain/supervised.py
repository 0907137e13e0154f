"""Supervised pre-training on some of the classes only: the course-scale stand-in for "pre-train on
a large labelled dataset, then fine-tune on a small one".

The objective keeps the samples whose label is in `classes` and trains a classifier over those
classes only (the other classes' logits are left out of the softmax). Samples of the held-out
classes are dropped before the forward pass, so they cost nothing and are never seen with
labels. The fine-tuning stage then meets the held-out classes for the first time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def class_subset_objective(classes, label_smoothing: float = 0.0):
    """objective(net, images, targets) -> (cross-entropy over `classes`, None).

    Training accuracy is not reported (logits None): it would mix kept and dropped samples.
    """
    chosen = torch.as_tensor(sorted(set(int(c) for c in classes)), dtype=torch.long)
    if chosen.numel() < 2:
        raise ValueError(f"classes={list(classes)}: a classifier needs at least two classes.")

    def objective(net, images, targets):
        keep_cls = chosen.to(targets.device)
        keep = torch.isin(targets, keep_cls)
        # Remap labels to 0..len(classes)-1 in the order of `chosen`.
        local = torch.searchsorted(keep_cls, targets[keep])
        logits = net(images[keep])[:, keep_cls]
        return F.cross_entropy(logits.float(), local, label_smoothing=label_smoothing), None
    return objective
