"""Check decoded splits against a dataset's spec and say exactly what is short or wrong."""

from __future__ import annotations

from pathlib import Path

import torch

from .cifar_formats import Splits
from .dataset import ImageDataset
from .fixes import dataset_error
from .specs import DatasetSpec



def split_problems(labels: torch.Tensor, spec: DatasetSpec, split: str) -> list[str]:
    """Empty when ``labels`` has exactly the spec's count per class; else one line per issue."""
    per_class = spec.train_per_class if split == "train" else spec.test_per_class
    total = spec.train_count if split == "train" else spec.test_count
    if labels.numel() == 0:
        return [f"{split} has no images (expected {total:,})"]
    if labels.min() < 0 or labels.max() >= len(spec.classes):
        return [f"{split}: labels outside 0..{len(spec.classes) - 1}"]
    counts = torch.bincount(labels, minlength=len(spec.classes)).tolist()
    wrong = [f"{name} {n:,} of {per_class:,}" for name, n in zip(spec.classes, counts) if n != per_class]
    if not wrong:
        return []
    shown = ", ".join(wrong[:5]) + (f", ... ({len(wrong)} classes off)" if len(wrong) > 5 else "")
    kind = "short" if labels.numel() < total else "unexpected count"
    return [f"{split} has {labels.numel():,} of {total:,} images ({kind}: {shown})"]


def build_dataset(spec: DatasetSpec, splits: Splits, provenance: str, source: str,
                  sha256: str | None, looked_for: str, where: str | Path,
                  root: str | Path) -> ImageDataset:
    """Validate counts and image shapes, then wrap the splits; a partial copy fails here."""
    problems = []
    for split in ("train", "test"):
        images, labels = splits[split]
        if len(images) and tuple(images.shape[1:]) != spec.image_shape:
            problems.append(f"{split} images are {tuple(images.shape[1:])}, expected {spec.image_shape}")
        problems += split_problems(labels, spec, split)
    if problems:
        raise dataset_error(spec, "partial or wrong copy: " + "; ".join(problems), looked_for, where, root)
    return ImageDataset(
        name=spec.name, classes=list(spec.classes), provenance=provenance, source=source,
        source_sha256=sha256,
        train_images=splits["train"][0].contiguous(), train_labels=splits["train"][1],
        test_images=splits["test"][0].contiguous(), test_labels=splits["test"][1])
