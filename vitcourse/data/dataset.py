"""`ImageDataset`: a whole image-classification dataset as uint8 tensors, plus where it came from.

Everything downstream (subsets, the loader, run logs) works from this one container. The
provenance string travels with the tensors so that a result trained on a lossy copy can never be
reported as if it came from the original dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from .specs import SPECS


@dataclass
class ImageDataset:
    """Train and test splits of one dataset, decoded.

    ``*_images`` are uint8 ``N x C x H x W``; ``*_labels`` int64 ``N``. ``provenance`` is the
    human-readable origin (e.g. ``"CIFAR-10 (JPEG q75 copy)"``) that run logs and the book
    print; ``source`` is the path of the copy or ``"torchvision"``; ``source_sha256`` is set for
    archives. ``train_subset`` describes a subset taken with :meth:`with_train_subset`.
    """

    name: str
    classes: list[str]
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    provenance: str
    source: str
    source_sha256: str | None = None
    train_subset: str | None = None
    # How this object was produced (cache file, whether it was a cache hit, seconds); kept out of
    # describe() because it changes from run to run while the data does not.
    load_info: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_images.shape[1:])

    @property
    def mean(self) -> tuple[float, ...]:
        """Per-channel normalisation mean of this dataset (in [0, 1] units)."""
        return SPECS[self.name].mean

    @property
    def std(self) -> tuple[float, ...]:
        return SPECS[self.name].std

    def class_counts(self, split: str = "train") -> list[int]:
        labels = self.train_labels if split == "train" else self.test_labels
        return torch.bincount(labels, minlength=self.num_classes).tolist()

    def with_train_subset(self, indices: torch.Tensor, description: str) -> "ImageDataset":
        """A copy whose training split is ``indices`` of this one; the test split is unchanged.

        ``description`` (e.g. ``"per_class_fraction 0.1, seed 0"``) is recorded in describe().
        """
        indices = torch.as_tensor(indices, dtype=torch.long)
        note = description if self.train_subset is None else f"{self.train_subset}; {description}"
        return replace(self, train_images=self.train_images[indices],
                       train_labels=self.train_labels[indices], train_subset=note,
                       load_info=dict(self.load_info))

    def describe(self) -> dict[str, Any]:
        """A JSON-safe summary for run logs: what the data is and where it came from."""
        return {
            "name": self.name,
            "provenance": self.provenance,
            "source": self.source,
            "source_sha256": self.source_sha256,
            "train_subset": self.train_subset,
            "classes": list(self.classes),
            "image_shape": list(self.image_shape),
            "train_size": int(self.train_labels.numel()),
            "test_size": int(self.test_labels.numel()),
            "train_class_counts": self.class_counts("train"),
            "test_class_counts": self.class_counts("test"),
            "mean": list(self.mean),
            "std": list(self.std),
        }

    def __repr__(self) -> str:
        return (f"ImageDataset({self.provenance}: train {tuple(self.train_images.shape)}, "
                f"test {tuple(self.test_images.shape)}, source={self.source!r})")


def normalised(images_uint8: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float ``(x / 255 - mean) / std``, normalised like the training loader,
    on the images' own device."""
    m = torch.tensor(mean, dtype=torch.float32, device=images_uint8.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=images_uint8.device).view(1, -1, 1, 1)
    return (images_uint8.float() / 255 - m) / s
