"""Datasets for the course: loading, caching, subsets, GPU augmentation and an in-memory loader.

``load_dataset("cifar10")`` (or ``load_cifar10`` / ``load_fashion_mnist``) returns an
``ImageDataset`` of uint8 tensors with its provenance (``datasets.py``; offline copies and the
cache are read by ``offline.py``); ``per_class_fraction`` and ``long_tailed`` pick deterministic
training subsets (``subsets.py``); ``TensorLoader.from_dataset`` batches it on the training
device (``loader.py``) with ``GpuAugment`` (configured by ``AugmentConfig``, ``augment/``).
"""

from .augment import PRESETS, AugmentConfig, GpuAugment
from .datasets import (CIFAR10, FASHION_MNIST, LOADERS, SPECS, DatasetNotFoundError, DatasetSpec,
                       ImageDataset, UnknownDatasetError, load_cifar10, load_dataset,
                       load_fashion_mnist, normalised)
from .loader import TensorLoader
from .subsets import long_tailed, long_tailed_counts, per_class_fraction, spread_indices

__all__ = [
    "load_dataset", "load_cifar10", "load_fashion_mnist", "LOADERS", "ImageDataset",
    "DatasetNotFoundError", "UnknownDatasetError", "DatasetSpec", "SPECS", "CIFAR10",
    "FASHION_MNIST", "per_class_fraction", "long_tailed", "long_tailed_counts", "AugmentConfig",
    "PRESETS", "GpuAugment", "TensorLoader", "normalised", "spread_indices",
]
