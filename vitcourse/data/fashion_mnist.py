"""Fashion-MNIST, the CPU-friendly second dataset: torchvision online, or the IDX files offline.

Offline, ``local=`` or ``$VITCOURSE_FASHION_MNIST`` points at a folder with the four IDX files,
such as ``/usr/share/datasets/fashion-mnist`` from Debian's ``dataset-fashion-mnist`` package, or
at a torchvision root (``FashionMNIST/raw/`` inside). That folder is never used unless named.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .cache import cached, fingerprint
from .dataset import ImageDataset
from .files import stat_fingerprint_parts
from .fixes import dataset_error
from .idx import IdxError, parse_idx
from .sources import pick_local
from .specs import FASHION_MNIST, DatasetSpec
from .torchvision_source import load_with_torchvision
from .validate import build_dataset

SPEC = FASHION_MNIST
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
TORCHVISION_FOLDER = Path("FashionMNIST") / "raw"


def load_fashion_mnist(root: str | Path = "data", local: str | Path | None = None,
                       download: bool | None = None) -> ImageDataset:
    """Fashion-MNIST as uint8 tensors (60,000 train / 10,000 test, 1 x 28 x 28).

    ``local`` / ``$VITCOURSE_FASHION_MNIST``: a folder with the IDX files (``.gz`` or not);
    otherwise torchvision's ``FashionMNIST(root, download=...)``, with ``download`` as in
    ``load_cifar10``. Decoded once into ``<root>/cache/``.
    """
    spec = SPEC
    if (picked := pick_local(spec, local, download)) is not None:
        return _load_local(picked[0], Path(root), spec, picked[1])
    return _load_torchvision(Path(root), download, spec)


def _find_files(folder: Path) -> tuple[Path, list[str], list[str]]:
    """The folder holding the IDX files, the file names found there, and the stems missing."""
    best: tuple[Path, list[str], list[str]] | None = None
    for base in (folder, folder / TORCHVISION_FOLDER, folder / "raw"):
        found, missing = [], []
        for stem in (s for pair in FILES.values() for s in pair):
            name = next((n for n in (stem, stem + ".gz") if (base / n).is_file()), None)
            (found if name else missing).append(name or stem)
        if best is None or len(found) > len(best[1]):
            best = (base, found, missing)
    return best


def _load_local(folder: Path, root: Path, spec: DatasetSpec, how: str) -> ImageDataset:
    looked_for = f"the four {spec.title} IDX files in a folder given by {how}"
    if not folder.is_dir():
        problem = "the path does not exist" if not folder.exists() else "it is a file, not a folder"
        raise dataset_error(spec, problem, looked_for, folder, root)
    base, found, missing = _find_files(folder)
    if missing:
        raise dataset_error(spec, f"files missing: {', '.join(m + '[.gz]' for m in missing)}",
                            looked_for, base, root)
    key = fingerprint([spec.name, "idx", str(base.resolve()), *stat_fingerprint_parts(base, found)])
    return cached(root, spec.name, key, lambda: _decode_idx(spec, base, found, looked_for, root))


def _decode_idx(spec: DatasetSpec, base: Path, found: list[str], looked_for: str, root: Path) -> ImageDataset:
    arrays = {}
    for name in found:
        try:
            arrays[name.removesuffix(".gz")] = parse_idx((base / name).read_bytes())
        except (IdxError, OSError) as err:
            raise dataset_error(spec, f"{name} is unreadable ({err})", looked_for, base, root) from err
    splits = {}
    for split, (images, labels) in FILES.items():
        x, y = arrays[images], arrays[labels]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise dataset_error(spec, f"{images} {x.shape} does not match {labels} {y.shape}",
                                looked_for, base, root)
        splits[split] = (torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.astype("int64")))
    return build_dataset(spec, splits, f"{spec.title} (local IDX files, original)",
                         str(base.resolve()), None, looked_for, base, root)


def _load_torchvision(root: Path, download: bool | None, spec: DatasetSpec) -> ImageDataset:
    from torchvision.datasets import FashionMNIST

    return load_with_torchvision(
        root, download, spec, lambda r, train, dl: FashionMNIST(r, train=train, download=dl),
        TORCHVISION_FOLDER, lambda s: (s.data.unsqueeze(1).contiguous(), s.targets.to(torch.int64)))
