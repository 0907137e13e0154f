"""What several tasks share: a test loader sized for the model, and the per-class results file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from vitcourse.data import AugmentConfig, GpuAugment, TensorLoader
from vitcourse.pretrain import confusion_matrix

from ..arrays import save_arrays


def self_supervised(net, images, targets):
    """The pre-training wrappers return their own loss; there are no logits to score."""
    return net(images), None


def eval_loader(dataset, model: nn.Module, batch_size: int = 500, count: int | None = None,
                indices: torch.Tensor | None = None) -> TensorLoader:
    """The test split (or its first `count` images, or the given `indices`), normalised as in
    training, resized to the model's input size if it differs (a ViT knows its size; models
    without `image_size`, like the ResNet, are evaluated at the dataset's own size)."""
    size = getattr(getattr(model, "encoder", getattr(model, "backbone", model)), "image_size", None)
    native = tuple(dataset.image_shape[1:])
    resize = int(size[0]) if size is not None and tuple(size) != native else None
    augment = AugmentConfig(crop=0, flip=False, resize=resize)
    if indices is None:
        indices = torch.arange(len(dataset.test_labels))[:count]
    images, labels = dataset.test_images[indices], dataset.test_labels[indices]
    return TensorLoader(images, labels, min(batch_size, len(labels)), shuffle=False, drop_last=False,
                        augment=GpuAugment.for_dataset(dataset, augment, train=False))


def save_per_class(model: nn.Module, dataset, run_dir: Path) -> None:
    """per_class.npz: the test confusion matrix (rows true, columns predicted) and train counts."""
    confusion = confusion_matrix(model, eval_loader(dataset, model), dataset.num_classes)
    save_arrays(Path(run_dir) / "per_class.npz", confusion=confusion,
                train_counts=np.array(dataset.class_counts("train")), classes=np.array(dataset.classes))
