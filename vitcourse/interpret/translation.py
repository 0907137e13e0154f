"""The translation test: shift test images by a few pixels and count how often the prediction changes.

A CNN is built to be (nearly) translation-equivariant: convolutions share weights across
positions and pooling at the end discards where a feature was found. A ViT has none of this: a
shift moves content across patch borders and onto other position embeddings, so invariance must
be learned from data (random-crop augmentation teaches shifts up to its padding). This module
measures that difference instead of asserting it.

Shift modes: "reflect" fills the uncovered border by mirroring (as the training crops do),
"zeros" with black, "roll" wraps around (a pure permutation of pixels, under which a model that
pools globally over pixels is exactly invariant).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from vitcourse.data import normalised
from vitcourse.predict import predictions

DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0))  # right, left, down, up as (dy, dx) unit steps
SHIFT_MODES = ("reflect", "zeros", "roll")


def shift_images(images: torch.Tensor, dy: int, dx: int, mode: str = "reflect") -> torch.Tensor:
    """Move the content of uint8 (B, C, H, W) images by dy rows and dx columns (positive: down/right)."""
    if mode not in SHIFT_MODES:
        raise ValueError(f"unknown shift mode {mode!r}: use one of {SHIFT_MODES}")
    if dy == 0 and dx == 0:
        return images.clone()
    if mode == "roll":
        return torch.roll(images, shifts=(dy, dx), dims=(2, 3))
    h, w = images.shape[-2:]
    pad = max(abs(dy), abs(dx))
    if pad >= min(h, w):
        raise ValueError(f"a shift of {pad} pixels is too large for {h}x{w} images")
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode="reflect" if mode == "reflect" else "constant")
    top, left = pad - dy, pad - dx                  # output[y, x] = input[y - dy, x - dx]
    return padded[..., top:top + h, left:left + w].round().to(images.dtype)


@torch.no_grad()
def predict_uint8(model, images: torch.Tensor, mean, std, batch_size: int = 256) -> torch.Tensor:
    """Predicted classes of uint8 images, normalised like the training loader ((x/255 - mean)/std)."""
    device = next(model.parameters()).device
    return predictions(model, normalised(images.to(device), mean, std), batch_size)


def translation_test(model, images: torch.Tensor, labels: torch.Tensor, mean, std,
                     shifts: Sequence[int] = tuple(range(1, 9)), directions=DIRECTIONS,
                     mode: str = "reflect", batch_size: int = 256) -> dict[str, torch.Tensor]:
    """For each shift s in pixels, over the given directions:

    - changed (S,): fraction of images whose predicted class differs from the unshifted one,
    - changed_by_direction (S, len(directions)),
    - accuracy (S,): accuracy on the shifted images (mean over directions),
    - base_accuracy (): accuracy without a shift.
    """
    was_training = model.training
    model.eval()
    try:
        labels = labels.cpu()
        base = predict_uint8(model, images, mean, std, batch_size)
        changed = torch.zeros(len(shifts), len(directions))
        accuracy = torch.zeros(len(shifts), len(directions))
        for i, s in enumerate(shifts):
            for j, (uy, ux) in enumerate(directions):
                pred = predict_uint8(model, shift_images(images, uy * s, ux * s, mode), mean, std, batch_size)
                changed[i, j] = (pred != base).float().mean()
                accuracy[i, j] = (pred == labels).float().mean()
    finally:
        model.train(was_training)
    return {"shifts": torch.tensor(list(shifts)), "changed": changed.mean(dim=1),
            "changed_by_direction": changed, "accuracy": accuracy.mean(dim=1),
            "base_accuracy": (base == labels).float().mean()}
