"""The online path shared by every dataset: torchvision's own class, downloading when allowed,
decoded once into the uint8 cache like the offline copies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .cache import cached, fingerprint
from .dataset import ImageDataset
from .fixes import dataset_error
from .specs import DatasetSpec
from .validate import build_dataset


def load_with_torchvision(root: Path, download: bool | None, spec: DatasetSpec, make: Callable,
                          folder: Path | str, to_tensors: Callable) -> ImageDataset:
    """`make(root, train, download)` builds torchvision's dataset; `to_tensors(ds)` gives
    (uint8 N x C x H x W images, int64 labels)."""
    looked_for = f"torchvision's {folder} (download={download})"
    where = root / folder

    def decode() -> ImageDataset:
        if download is False and not where.exists():
            raise dataset_error(spec, "download=False and no torchvision copy has been downloaded",
                                looked_for, where, root)
        try:
            sets = {split: make(str(root), split == "train", download is not False and split == "train")
                    for split in ("train", "test")}
        except Exception as err:  # URLError offline, RuntimeError for a damaged copy, ...
            raise dataset_error(spec, f"torchvision could not provide it ({type(err).__name__}: {err})",
                                looked_for, where, root) from err
        splits = {split: to_tensors(s) for split, s in sets.items()}
        return build_dataset(spec, splits, f"{spec.title} (torchvision download, original)", "torchvision",
                             None, looked_for, where, root)
    return cached(root, spec.name, fingerprint([spec.name, "torchvision"]), decode)
