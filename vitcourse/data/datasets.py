"""CIFAR-10 and Fashion-MNIST as uint8 tensors with their provenance: ``load_dataset(name)``.

Which copy is used is always explicit: ``local=`` (or ``$VITCOURSE_CIFAR10`` /
``$VITCOURSE_FASHION_MNIST``) names a local copy, read by ``offline.py``, and nothing is ever
downloaded; otherwise the original comes through torchvision. Either way it is decoded once and
cached under ``<root>/cache/``, and checked against its ``DatasetSpec``: a missing, partial or
corrupt copy raises ``DatasetNotFoundError``, saying what was looked for, where, and how to fix it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from . import offline


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset must look like; ``mean``/``std`` are its own training-set pixel
    statistics in [0, 1] (not ImageNet's)."""

    name: str                 # key used by load_dataset and in cache file names
    title: str                # how logs and the book spell it
    classes: tuple[str, ...]  # in the dataset's standard label order
    train_per_class: int
    test_per_class: int
    image_shape: tuple[int, int, int]  # C, H, W
    mean: tuple[float, ...]
    std: tuple[float, ...]
    env_var: str              # the environment variable that points at a local copy
    torchvision_class: str    # in torchvision.datasets
    torchvision_folder: str   # what that class downloads into root

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
    env_var="VITCOURSE_CIFAR10", torchvision_class="CIFAR10", torchvision_folder="cifar-10-batches-py",
)
FASHION_MNIST = DatasetSpec(
    name="fashion_mnist", title="Fashion-MNIST",
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    train_per_class=6000, test_per_class=1000, image_shape=(1, 28, 28),
    mean=(0.2860,), std=(0.3530,),
    env_var="VITCOURSE_FASHION_MNIST", torchvision_class="FashionMNIST",
    torchvision_folder="FashionMNIST/raw",
)
# Looked up when a loader runs (tests substitute tiny specs); keyed by DatasetSpec.name.
SPECS = {spec.name: spec for spec in (CIFAR10, FASHION_MNIST)}


@dataclass
class ImageDataset:
    """Train and test splits of one dataset: what subsets, the loader and run logs work from.

    ``*_images`` are uint8 ``N x C x H x W``; ``*_labels`` int64 ``N``. ``provenance`` (e.g.
    ``"CIFAR-10 (JPEG q75 copy)"``) travels with the tensors, so a result trained on a lossy copy
    is never reported as the original; ``source`` is the copy's path or ``"torchvision"``,
    ``source_sha256`` an archive's; ``train_subset`` describes :meth:`with_train_subset`'s subset.
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

    def __post_init__(self):
        # A label outside 0..K-1 would otherwise fail mid-epoch as "Target 12345 is out of bounds".
        for split, labels in (("train", self.train_labels), ("test", self.test_labels)):
            if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < self.num_classes:
                raise ValueError(f"{split} labels of {self.name} ({self.source}) hold {int(labels.min())}"
                                 f"..{int(labels.max())}, outside 0..{self.num_classes - 1}: the "
                                 "copy is damaged or its classes do not match; load a clean copy")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_images.shape[1:])

    @property
    def mean(self) -> tuple[float, ...]:  # per-channel normalisation statistics, in [0, 1] units
        return SPECS[self.name].mean

    @property
    def std(self) -> tuple[float, ...]:
        return SPECS[self.name].std

    def class_counts(self, split: str = "train") -> list[int]:
        labels = self.train_labels if split == "train" else self.test_labels
        return torch.bincount(labels, minlength=self.num_classes).tolist()

    def with_train_subset(self, indices: torch.Tensor, description: str) -> ImageDataset:
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
            "name": self.name, "provenance": self.provenance, "source": self.source,
            "source_sha256": self.source_sha256, "train_subset": self.train_subset,
            "classes": list(self.classes), "image_shape": list(self.image_shape),
            "train_size": int(self.train_labels.numel()), "test_size": int(self.test_labels.numel()),
            "train_class_counts": self.class_counts("train"),
            "test_class_counts": self.class_counts("test"),
            "mean": list(self.mean), "std": list(self.std),
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


# ---------------------------------------------------------------- the one error


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is missing, incomplete or unreadable where the loader looked for it (a
    ``FileNotFoundError``, with ``problem``, ``looked_for`` and ``where`` as attributes)."""

    def __init__(self, dataset: str, problem: str, looked_for: str, where: str | Path,
                 fixes: list[str], hints: list[str] | None = None):
        self.dataset, self.problem, self.looked_for, self.where = dataset, problem, looked_for, str(where)
        self._init_args = (dataset, problem, looked_for, str(where), list(fixes), list(hints or []))
        super().__init__("\n".join([
            f"{dataset} is not usable: {problem}",
            f"  looked for: {looked_for}",
            f"  where:      {where}",
            "  fix it one of two ways:",
            *(f"    {i}. {fix}" for i, fix in enumerate(fixes, 1)),
            *(f"  note: {hint}" for hint in hints or []),
        ]))

    def __str__(self) -> str:  # FileNotFoundError would otherwise print "[Errno None] ..."
        return self.args[0]

    def __reduce__(self):  # so the error survives being sent between processes (DDP, pools)
        return type(self), self._init_args


class UnknownDatasetError(ValueError):
    """``load_dataset`` was given a name it does not know."""

    def __init__(self, name: str, known: list[str]):
        self.name, self.known = name, known
        super().__init__(f"unknown dataset {name!r}; known datasets: {', '.join(known)} "
                         f"(e.g. load_dataset({known[0]!r}))")


def dataset_error(spec: DatasetSpec, problem: str, looked_for: str, where: str | Path,
                  root: str | Path) -> DatasetNotFoundError:
    """The loaders' error: the problem, and the two ways to fix it (``root``: download folder)."""
    unset = f"; unset {spec.env_var} first" if os.environ.get(spec.env_var) else ""
    fixes = [
        f"point at a local copy: `export {spec.env_var}=/path/to/copy` before `python -m vitcourse` "
        f"or a notebook (from Python: load_{spec.name}(local='/path/to/copy')); the copy is "
        f"{offline.LAYOUTS[spec.name]}",
        f"go online: with network access the original is downloaded through torchvision into "
        f"{str(root)!r}{unset}",
    ]
    hints = [f"a copy exists at {p}: export {spec.env_var}={p}"
             for p in offline.KNOWN_COPIES.get(spec.name, []) if p.exists()]
    return DatasetNotFoundError(spec.title, problem, looked_for, where, fixes, hints)


# ---------------------------------------------------------------- loading


def load_cifar10(root: str | Path = "data", local: str | Path | None = None,
                 download: bool | None = None) -> ImageDataset:
    """CIFAR-10 as uint8 tensors (50,000 train / 10,000 test, 3 x 32 x 32).

    * ``local`` (or ``$VITCOURSE_CIFAR10``): a ``cifar-10-batches-py`` folder (or its parent), an
      ImageFolder tree ``train/<class>/*``, ``test/<class>/*`` (or its parent), or a tar archive
      of either. Never downloads.
    * otherwise torchvision's ``CIFAR10(root, download=...)``: ``download=None`` downloads only
      when ``root`` has no copy yet, ``False`` never does.
    """
    spec = SPECS["cifar10"]
    return _load(spec, root, local, download, offline.cifar10_copy, f"a local {spec.title} copy")


def load_fashion_mnist(root: str | Path = "data", local: str | Path | None = None,
                       download: bool | None = None) -> ImageDataset:
    """Fashion-MNIST as uint8 tensors (60,000 train / 10,000 test, 1 x 28 x 28).

    ``local`` / ``$VITCOURSE_FASHION_MNIST``: a folder with the four IDX files (``.gz`` or not),
    such as ``/usr/share/datasets/fashion-mnist``, or a torchvision root; otherwise torchvision's
    ``FashionMNIST(root, download=...)``, with ``download`` as in ``load_cifar10``.
    """
    spec = SPECS["fashion_mnist"]
    return _load(spec, root, local, download, offline.fashion_mnist_copy,
                 f"the four {spec.title} IDX files in a folder")


def _load(spec: DatasetSpec, root: str | Path, local: str | Path | None, download: bool | None,
          find_copy: Callable[[DatasetSpec, Path], offline.LocalCopy], copy_kind: str) -> ImageDataset:
    """A named local copy wins (``local=``, then ``$env_var``) and never falls back to
    downloading; without one, torchvision."""
    how = "local="
    if local is None:
        local, how = os.environ.get(spec.env_var) or None, f"${spec.env_var}"
    if local is None:
        return _load_torchvision(spec, Path(root), download)
    if download:
        raise ValueError(f"load_{spec.name}: both a local copy ({how} {str(local)!r}) and "
                         f"download=True were given; drop one (unset {spec.env_var} to download)")
    path, looked_for = Path(local).expanduser(), f"{copy_kind} given by {how}"
    try:
        copy = find_copy(spec, path)
    except offline.CopyUnreadable as err:
        raise dataset_error(spec, str(err), looked_for, err.where or path, root) from err

    def decode() -> ImageDataset:
        try:
            return _checked(spec, *copy.decode(), copy.source, copy.sha256)
        except offline.CopyUnreadable as err:
            raise dataset_error(spec, str(err), looked_for, err.where or copy.where, root) from err
    return _cached(spec, root, copy.key, decode)


def _load_torchvision(spec: DatasetSpec, root: Path, download: bool | None) -> ImageDataset:
    # Imported here: torchvision costs about a second that a cached load should not pay.
    import torchvision.datasets

    looked_for = f"torchvision's {spec.torchvision_folder} (download={download})"
    where = root / spec.torchvision_folder

    def decode() -> ImageDataset:
        if download is False and not where.exists():
            raise dataset_error(spec, "download=False and no torchvision copy has been downloaded",
                                looked_for, where, root)
        make = getattr(torchvision.datasets, spec.torchvision_class)  # checks the files' md5
        try:
            sets = {split: make(str(root), train=split == "train",
                                download=download is not False and split == "train")
                    for split in ("train", "test")}
        except Exception as err:  # URLError offline, RuntimeError for a damaged copy, ...
            raise dataset_error(spec, f"torchvision could not provide it ({type(err).__name__}: {err})",
                                looked_for, where, root) from err
        splits = {}
        for split, s in sets.items():  # N x H x W x C (CIFAR-10) or N x H x W (Fashion-MNIST)
            data = torch.as_tensor(s.data)
            images = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)
            splits[split] = (images.contiguous(), torch.as_tensor(s.targets, dtype=torch.int64))
        try:
            return _checked(spec, splits, f"{spec.title} (torchvision download, original)", "torchvision")
        except offline.CopyUnreadable as err:  # a partial copy
            raise dataset_error(spec, str(err), looked_for, where, root) from err
    return _cached(spec, root, offline.fingerprint([spec.name, "torchvision"]), decode)


def _checked(spec: DatasetSpec, splits: offline.Splits, provenance: str, source: str,
             sha256: str | None = None) -> ImageDataset:
    """The dataset, once its image shapes and counts per class match ``spec``; a partial copy
    raises ``CopyUnreadable``, which the loaders turn into their error."""
    if problems := offline.count_problems(spec, splits):
        raise offline.CopyUnreadable("partial or wrong copy: " + "; ".join(problems))
    return ImageDataset(
        name=spec.name, classes=list(spec.classes), provenance=provenance, source=source,
        source_sha256=sha256,
        train_images=splits["train"][0].contiguous(), train_labels=splits["train"][1],
        test_images=splits["test"][0].contiguous(), test_labels=splits["test"][1])


def _cached(spec: DatasetSpec, root: str | Path, key: str, decode: Callable) -> ImageDataset:
    """The cached dataset for ``key`` (checksums verified); without a sound one, ``decode()``
    (timed) and cache the result. Every loader, online or offline, goes through here."""
    if (fields := offline.read_cache(root, spec.name, key, len(spec.classes))) is not None:
        return ImageDataset(**fields)
    start = time.perf_counter()
    ds = decode()
    ds.load_info = offline.write_cache(root, key, ds, time.perf_counter() - start)
    return ds


LOADERS: dict[str, Callable[..., ImageDataset]] = {"cifar10": load_cifar10,
                                                   "fashion_mnist": load_fashion_mnist}
# Spellings people type; each maps to a key of LOADERS.
_ALIASES = {"cifar-10": "cifar10", "fashion-mnist": "fashion_mnist", "fashionmnist": "fashion_mnist"}


def load_dataset(name: str, **kwargs) -> ImageDataset:
    """``load_dataset("cifar10", root="data", local=None, download=None)`` and so on."""
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in LOADERS:
        raise UnknownDatasetError(name, sorted(LOADERS))
    return LOADERS[key](**kwargs)
