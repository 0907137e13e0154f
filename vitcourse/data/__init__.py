"""Datasets for the course: loading, caching, subsets, GPU augmentation and an in-memory loader.

``load_dataset("cifar10")`` (or ``load_cifar10`` / ``load_fashion_mnist``) returns an
``ImageDataset`` of uint8 tensors with its provenance; ``per_class_fraction`` and
``long_tailed`` pick deterministic training subsets; ``TensorLoader.from_dataset`` batches it on
the training device with ``GpuAugment`` (configured by ``AugmentConfig``).

Offline copies are named by ``local=`` or the environment variables ``VITCOURSE_CIFAR10`` and
``VITCOURSE_FASHION_MNIST``; see ``load_cifar10`` for the accepted layouts.
"""

from .augment import PRESETS, AugmentConfig, GpuAugment
from .cifar10 import load_cifar10
from .dataset import ImageDataset, normalised
from .errors import DatasetNotFoundError, UnknownDatasetError
from .fashion_mnist import load_fashion_mnist
from .loader import TensorLoader
from .registry import LOADERS, load_dataset
from .specs import CIFAR10, FASHION_MNIST, SPECS, DatasetSpec
from .subsets import long_tailed, long_tailed_counts, per_class_fraction, spread_indices

__all__ = [
    "load_dataset", "load_cifar10", "load_fashion_mnist", "LOADERS", "ImageDataset",
    "DatasetNotFoundError", "UnknownDatasetError", "DatasetSpec", "SPECS", "CIFAR10",
    "FASHION_MNIST", "per_class_fraction", "long_tailed", "long_tailed_counts", "AugmentConfig",
    "PRESETS", "GpuAugment", "TensorLoader", "normalised", "spread_indices",
]
