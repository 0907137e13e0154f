"""The two on-disk forms of CIFAR-10 a local copy may take, read from in-memory files.

* torchvision's ``cifar-10-batches-py``: five training batches and one test batch of raw pixels
  (the original, lossless);
* an ImageFolder tree: ``train/<class>/<file>`` and ``test/<class>/<file>`` image files (e.g.
  the course's JPEG copy; lossy if JPEG).

Both return ``{"train": (images, labels), "test": (images, labels)}`` with uint8 ``N x C x H x W``
images; checking the counts is the caller's job. Problems raise ``CopyUnreadable``.
"""

from __future__ import annotations

import numpy as np
import torch

from .decode import BadImageError, decode_images, describe_encoding
from .files import CopyUnreadable
from .safe_pickle import load_batch
from .specs import DatasetSpec

BATCH_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
               "test_batch")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp")
SPLITS = ("train", "test")

Splits = dict[str, tuple[torch.Tensor, torch.Tensor]]


# The predicates take POSIX path strings: they run once per archive member (60,000 times).
def is_batch_file(path: str) -> bool:
    return path.rpartition("/")[2] in BATCH_FILES


def is_imagefolder_file(path: str) -> bool:
    """``.../<split>/<class>/<image>``: anything else in the tree (READMEs, ...) is ignored."""
    parts = path.rsplit("/", 3)
    return (len(parts) >= 3 and parts[-3] in SPLITS and not parts[-1].startswith(".")
            and parts[-1].lower().endswith(IMAGE_SUFFIXES))


def read_batches(files: dict[str, bytes], spec: DatasetSpec) -> Splits:
    """Decode the pickled batches (keyed by any path ending in the batch file names)."""
    by_name = {k.rpartition("/")[2]: v for k, v in files.items()}
    missing = [name for name in BATCH_FILES if name not in by_name]
    if missing:
        raise CopyUnreadable(f"batch files missing: {', '.join(missing)}")
    c, h, w = spec.image_shape
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"train": [], "test": []}
    for name in BATCH_FILES:
        try:
            batch = load_batch(by_name[name])
            data = np.asarray(_field(batch, "data"), dtype=np.uint8).reshape(-1, c, h, w)
            labels = np.asarray(_field(batch, "labels"), dtype=np.int64)
        except Exception as err:  # truncated pickle, wrong sizes, refused content, ...
            raise CopyUnreadable(f"{name} is not a readable CIFAR batch ({err})") from err
        if len(data) != len(labels):
            raise CopyUnreadable(f"{name} has {len(data)} images but {len(labels)} labels")
        parts["test" if name == "test_batch" else "train"].append((data, labels))
    return {split: (torch.from_numpy(np.concatenate([d for d, _ in p])),
                    torch.from_numpy(np.concatenate([lab for _, lab in p])))
            for split, p in parts.items()}


def _field(batch: dict, key: str):
    # Python 2 wrote str keys (read back as str); files re-saved from Python 3 may use bytes.
    return batch[key] if key in batch else batch[key.encode()]


def read_imagefolder(files: dict[str, bytes], spec: DatasetSpec) -> tuple[Splits, str]:
    """Decode an ImageFolder tree; also returns the copy's encoding (e.g. ``"JPEG q75"``)."""
    index = {c: i for i, c in enumerate(spec.classes)}
    entries, unknown = [], set()
    for name in files:
        split, cls, file = name.rsplit("/", 3)[-3:]
        if cls not in index:
            unknown.add(f"{split}/{cls}")
            continue
        # Sort key: split, label, file name -- a stable order whatever order the archive had.
        entries.append((split, index[cls], file, name))
    if unknown:
        raise CopyUnreadable(f"class folders that are not {spec.title} classes: "
                             f"{', '.join(sorted(unknown))} (expected: {', '.join(spec.classes)})")
    entries.sort()
    splits: Splits = {}
    for split in SPLITS:
        rows = [e for e in entries if e[0] == split]
        names = [e[3] for e in rows]
        try:
            images = decode_images([files[n] for n in names], names, spec.image_shape)
        except BadImageError as err:
            raise CopyUnreadable(f"an image is unreadable: {err}") from err
        splits[split] = (images, torch.tensor([e[1] for e in rows], dtype=torch.int64))
    encoding = describe_encoding([files[e[3]] for e in entries])
    return splits, encoding
