"""Rotation prediction: self-supervised pre-training for a convolutional network.

Gidaris et al. (2018) showed that a CNN which learns to tell which of four rotations (0, 90, 180,
270 degrees) an unlabelled image went through must learn what objects look like: "up" is only
recognisable from the object's shape. It is the CNN counterpart, in the class-imbalance chapter,
of the masked autoencoder the ViT gets: both pre-train on the long-tailed images without labels,
then the whole network is fine-tuned with labels.

Each image gets one random rotation per step (the original fed all four rotations of every image
together, four times the compute). The rotations are drawn from the global RNG, which `fit`
seeds per epoch, so a resumed run repeats them exactly. CIFAR-10 images are square, so a rotated
image keeps its shape.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vitcourse.models import ResNet

ROTATIONS = 4


def rotate_batch(images: torch.Tensor, quarter_turns: torch.Tensor) -> torch.Tensor:
    """Rotate image n of ``N x C x H x W`` by ``quarter_turns[n]`` x 90 degrees, counter-clockwise."""
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"rotation prediction needs square images, got {tuple(images.shape[-2:])}")
    out = images.clone()
    for k in range(1, ROTATIONS):
        chosen = quarter_turns == k
        if chosen.any():
            out[chosen] = torch.rot90(images[chosen], k, dims=(-2, -1))
    return out


class RotationPrediction(nn.Module):
    """A vitcourse ``ResNet`` whose classifier is replaced by a 4-way rotation classifier.

    ``forward(images)`` rotates each image at random and returns the cross-entropy of predicting
    its rotation; ``logits(images)`` gives the rotation logits of images as they are. Fine-tuning
    copies ``backbone`` (everything but ``backbone.fc``) into a fresh classifier.
    """

    def __init__(self, backbone: ResNet):
        super().__init__()
        if not isinstance(backbone, ResNet):
            raise TypeError(f"RotationPrediction pre-trains a vitcourse ResNet, got {type(backbone).__name__}; "
                            "a ViT is pre-trained with MaskedAutoencoder or MaskedPatchPrediction.")
        backbone.fc = nn.Linear(backbone.fc.in_features, ROTATIONS)
        self.backbone = backbone

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        turns = torch.randint(0, ROTATIONS, (len(images),), device=images.device)
        return F.cross_entropy(self.logits(rotate_batch(images, turns)).float(), turns)


@torch.no_grad()
def rotation_accuracy(model: RotationPrediction, loader, device=None) -> float:
    """How often the pre-trained network names the rotation of a test image (each image in all
    four rotations; chance is 25%)."""
    device = device or next(model.parameters()).device
    model.eval()
    hits = total = 0
    for images, _ in loader:
        images = images.to(device)
        for k in range(ROTATIONS):
            turns = torch.full((len(images),), k, device=device)
            hits += int((model.logits(rotate_batch(images, turns)).argmax(1) == k).sum())
            total += len(images)
    return hits / max(total, 1)
