"""Build what an experiment's spec names: its dataset (with the spec's subsets) and its model,
sized for that dataset and the augmentation's input size."""

from __future__ import annotations

import dataclasses

from torch import nn

from vitcourse.data import AugmentConfig, load_dataset, long_tailed, per_class_fraction
from vitcourse.models import ViT, resnet18

from . import paths

ARCHS = ("vit", "resnet18")


def build_model(spec: dict, num_classes: int, in_channels: int, image_size: int) -> nn.Module:
    spec = dict(spec)
    arch = spec.pop("arch", None)
    if arch == "vit":
        return ViT(image_size=image_size, in_channels=in_channels, num_classes=num_classes, **spec)
    if arch == "resnet18":
        return resnet18(num_classes=num_classes, in_channels=in_channels, **spec)
    raise ValueError(f"unknown model arch={arch!r} in experiment spec: use one of {ARCHS}.")


def input_size(data_spec: dict, native: int) -> int:
    """The side the model sees: the augmentation's resize (e.g. 224 for /16 models) or the native size."""
    return AugmentConfig.parse(data_spec.get("augment")).resize or native


def prepare_dataset(data_spec: dict, local: str | None = None):
    """Load the dataset and apply the experiment's training subset.

    The test set stays whole, except that a smoke profile may ask for a balanced ``test_fraction``
    of it: evaluating a CPU smoke model on all 10,000 images would dominate its run time.
    """
    dataset = load_dataset(data_spec["dataset"], root=str(paths.data_root()), local=local)
    subset_seed = data_spec.get("subset_seed", 0)
    if "imbalance" in data_spec:
        idx = long_tailed(dataset.train_labels, data_spec["imbalance"], seed=subset_seed)
        dataset = dataset.with_train_subset(idx, f"long-tailed, imbalance ratio {data_spec['imbalance']}")
    fraction = data_spec.get("fraction", 1.0)
    if fraction < 1.0:
        idx = per_class_fraction(dataset.train_labels, fraction, seed=subset_seed)
        dataset = dataset.with_train_subset(idx, f"{fraction:.0%} per class")
    test_fraction = data_spec.get("test_fraction", 1.0)
    if test_fraction < 1.0:
        idx = per_class_fraction(dataset.test_labels, test_fraction, seed=subset_seed)
        dataset = dataclasses.replace(dataset, test_images=dataset.test_images[idx],
                                      test_labels=dataset.test_labels[idx])
    return dataset
