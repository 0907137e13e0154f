"""Build the model an experiment names, sized for its dataset."""

from __future__ import annotations

from torch import nn

from vitcourse.models import ViT, resnet18

ARCHS = ("vit", "resnet18")


def build_model(spec: dict, num_classes: int, in_channels: int, image_size: int) -> nn.Module:
    spec = dict(spec)
    arch = spec.pop("arch", None)
    if arch == "vit":
        return ViT(image_size=image_size, in_channels=in_channels, num_classes=num_classes, **spec)
    if arch == "resnet18":
        return resnet18(num_classes=num_classes, in_channels=in_channels, **spec)
    raise ValueError(f"unknown model arch={arch!r} in experiment spec: use one of {ARCHS}.")
