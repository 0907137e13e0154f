"""``load_dataset(name)``: one entry point for every dataset the course knows."""

from __future__ import annotations

from collections.abc import Callable

from .cifar10 import load_cifar10
from .dataset import ImageDataset
from .errors import UnknownDatasetError
from .fashion_mnist import load_fashion_mnist

LOADERS: dict[str, Callable[..., ImageDataset]] = {
    "cifar10": load_cifar10,
    "fashion_mnist": load_fashion_mnist,
}
# Spellings people type; each maps to a key of LOADERS.
_ALIASES = {"cifar-10": "cifar10", "fashion-mnist": "fashion_mnist", "fashionmnist": "fashion_mnist"}


def load_dataset(name: str, **kwargs) -> ImageDataset:
    """``load_dataset("cifar10", root="data", local=None, download=None)`` and so on."""
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    if key not in LOADERS:
        raise UnknownDatasetError(name, sorted(LOADERS))
    return LOADERS[key](**kwargs)
