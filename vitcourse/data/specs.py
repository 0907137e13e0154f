"""What each supported dataset must look like: classes, counts per class, image shape, statistics.

Loaders validate every copy against its spec, which is how a partial copy is caught and named.
The normalisation statistics are each dataset's own (per-channel mean/std of the training set
in [0, 1]), not ImageNet's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetSpec:
    name: str                 # key used by load_dataset and in cache file names
    title: str                # how logs and the book spell it
    classes: tuple[str, ...]  # in the dataset's standard label order
    train_per_class: int
    test_per_class: int
    image_shape: tuple[int, int, int]  # C, H, W
    mean: tuple[float, ...]
    std: tuple[float, ...]
    env_var: str              # the environment variable that points at a local copy

    @property
    def train_count(self) -> int:
        return self.train_per_class * len(self.classes)

    @property
    def test_count(self) -> int:
        return self.test_per_class * len(self.classes)


CIFAR10 = DatasetSpec(
    name="cifar10", title="CIFAR-10",
    classes=("airplane", "automobile", "bird", "cat", "deer",
             "dog", "frog", "horse", "ship", "truck"),
    train_per_class=5000, test_per_class=1000, image_shape=(3, 32, 32),
    # Pixel statistics of the original training set (the often-quoted 0.2023/0.1994/0.2010 are
    # averages of per-image stds, not the dataset std).
    mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
    env_var="VITCOURSE_CIFAR10",
)

FASHION_MNIST = DatasetSpec(
    name="fashion_mnist", title="Fashion-MNIST",
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    train_per_class=6000, test_per_class=1000, image_shape=(1, 28, 28),
    mean=(0.2860,), std=(0.3530,),
    env_var="VITCOURSE_FASHION_MNIST",
)

SPECS = {spec.name: spec for spec in (CIFAR10, FASHION_MNIST)}
