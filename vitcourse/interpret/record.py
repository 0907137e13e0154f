"""The arrays chapter 6 needs from one trained model, computed once (on the GPU that trained it)
and saved next to the run log, so the book can draw its figures without any weights.

`inspection_arrays` works for a ViT and, with less to show, for a CNN (then only the
translation test). `vitcourse.lab.arrays.read_inspection` loads them back through schema validation.
"""

from __future__ import annotations

import numpy as np
import torch

from vitcourse.data import normalised, spread_indices

from .attention import attention_stack, cls_rows_on_grid, rollout_on_grid
from .distance import attention_distances
from .embeddings import patch_filters, position_table, principal_components
from .translation import translation_test

FILENAME = "inspection.npz"

# What every file has (the translation test, which also runs on CNNs) ...
# {key: (dtype kind, shape)}: what every file must hold (`vitcourse.lab.arrays` checks it).
COMMON = {
    "shifts": ("i", ("S",)), "changed": ("f", ("S",)), "changed_by_direction": ("f", ("S", "dirs")),
    "shifted_accuracy": ("f", ("S",)), "base_accuracy": ("f", ()), "translation_images": ("i", ()),
}
# ... and what a ViT's file adds.
VIT = {
    "image_index": ("i", ("n",)), "images": ("u", ("n", "C", "H", "W")), "labels": ("i", ("n",)),
    "predictions": ("i", ("n",)), "cls_maps": ("f", ("n", "L", "heads", "h", "w")),
    "rollout": ("f", ("n", "h", "w")), "distances": ("f", ("L", "heads")),
    "distance_images": ("i", ()), "patch_size": ("i", ()), "position_table": ("f", ("N", "D")),
    "filter_pcs": ("f", ("k", "C", "P", "P")), "filter_pc_ratio": ("f", ("k",)),
}
VIT_SCHEMA = {**COMMON, **VIT}


def fixed_test_images(labels: torch.Tensor, per_class: int = 1) -> torch.Tensor:
    """Indices of the first `per_class` test images of every class: the same pictures for every model."""
    picks = [torch.nonzero(labels == c).flatten()[:per_class] for c in range(int(labels.max()) + 1)]
    return torch.cat(picks)


def _in_batches(fn, x: torch.Tensor, batch_size: int = 64):
    return [fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]


@torch.no_grad()
def inspection_arrays(model, dataset, *, per_class: int = 1, distance_images: int = 256,
                      translation_images: int = 1000, pcs: int = 16, shift_mode: str = "reflect") -> dict:
    """Everything chapter 6 plots for `model` (trained on `dataset`), as numpy arrays."""
    device = next(model.parameters()).device
    model.eval()
    images, labels = dataset.test_images, dataset.test_labels
    mean, std = dataset.mean, dataset.std
    # Spread the translation-test images over the whole test set, deterministically.
    sel = spread_indices(len(images), translation_images)
    t = translation_test(model, images[sel], labels[sel], mean, std, mode=shift_mode)
    out = {"shifts": t["shifts"].numpy().astype(np.int64), "changed": t["changed"].numpy(),
           "changed_by_direction": t["changed_by_direction"].numpy(),
           "shifted_accuracy": t["accuracy"].numpy(), "base_accuracy": np.float32(t["base_accuracy"]),
           "translation_images": np.int64(len(sel))}
    if not hasattr(model, "attention_maps"):  # a CNN: the translation test is all we compare
        return out

    index = fixed_test_images(labels, per_class)
    x = normalised(images[index].to(device), mean, std)
    stack = attention_stack(model, x)                                   # L, n, H, T, T
    # Distances average over more images than we draw, in batches to bound memory.
    many = normalised(images[:distance_images].to(device), mean, std)
    per_batch = _in_batches(lambda b: attention_distances(model, b) * len(b), many)
    filters_pc, ratio = principal_components(patch_filters(model), pcs)
    out.update({
        "image_index": index.numpy().astype(np.int64), "images": images[index].numpy(),
        "labels": labels[index].numpy().astype(np.int64),
        "predictions": model(x).argmax(dim=1).cpu().numpy().astype(np.int64),
        "cls_maps": cls_rows_on_grid(model, stack).float().cpu().numpy(),
        "rollout": rollout_on_grid(model, stack).cpu().numpy(),
        "distances": (torch.stack(per_batch).sum(0) / len(many)).cpu().numpy(),
        "distance_images": np.int64(len(many)), "patch_size": np.int64(model.patch_size),
        "position_table": position_table(model).numpy(),
        "filter_pcs": filters_pc.numpy(), "filter_pc_ratio": ratio.numpy(),
    })
    return out
