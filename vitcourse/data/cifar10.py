"""CIFAR-10, online through torchvision or offline from a local copy, decoded once and cached.

Which copy is used is always explicit: ``local=`` (or the environment variable
``VITCOURSE_CIFAR10``) names a local copy and then nothing is ever downloaded; otherwise the
original comes through torchvision (``download=None`` downloads only if ``root`` lacks it).
"""

from __future__ import annotations

from pathlib import Path

import torch

from .cache import cached, file_sha256, fingerprint
from .cifar_formats import (BATCH_FILES, SPLITS, is_batch_file, is_imagefolder_file,
                            read_batches, read_imagefolder)
from .dataset import ImageDataset
from .files import (CopyUnreadable, is_archive, list_tree, read_archive, read_tree,
                    stat_fingerprint_parts)
from .fixes import dataset_error
from .sources import pick_local
from .specs import CIFAR10, DatasetSpec
from .torchvision_source import load_with_torchvision
from .validate import build_dataset

SPEC = CIFAR10  # looked up at call time, so tests can substitute a tiny spec
TORCHVISION_FOLDER = "cifar-10-batches-py"
# Archives whose provenance is known exactly (sha256 -> provenance), see ../shared/data/README.md.
KNOWN_ARCHIVES = {
    "58c58e3af3ec7ed2054f439f35ad3c83dc1ab019f4af6037f60612ea098c8fa1": "CIFAR-10 (JPEG q75 copy)",
}


def load_cifar10(root: str | Path = "data", local: str | Path | None = None,
                 download: bool | None = None) -> ImageDataset:
    """CIFAR-10 as uint8 tensors (50,000 train / 10,000 test, 3 x 32 x 32).

    * ``local`` (or ``$VITCOURSE_CIFAR10``): a ``cifar-10-batches-py`` folder (or its parent), an
      ImageFolder tree ``train/<class>/*``, ``test/<class>/*`` (or its parent), or a tar archive
      of either. Decoded once into ``<root>/cache/``; never downloads.
    * otherwise torchvision's ``CIFAR10(root, download=...)``: ``download=None`` downloads only
      when ``root`` has no copy yet, ``False`` never does.

    Raises ``DatasetNotFoundError`` (one message: what, where, how to fix) for a missing,
    partial or corrupt copy.
    """
    spec = SPEC
    if (picked := pick_local(spec, local, download)) is not None:
        return load_local_copy(picked[0], root, spec, how=picked[1])
    return _load_torchvision(Path(root), download, spec)


def load_local_copy(path: Path, root: str | Path, spec: DatasetSpec, how: str = "local=") -> ImageDataset:
    """Load ``spec``'s dataset from a folder or archive at ``path`` (see ``load_cifar10``)."""
    looked_for = f"a local {spec.title} copy given by {how}"
    if not path.exists():
        raise dataset_error(spec, "the path does not exist", looked_for, path, root)
    try:
        if path.is_file():
            if not is_archive(path):
                raise CopyUnreadable("it is a file but not a tar archive (.tar.gz, .tgz, .tar)")
            sha = file_sha256(path)
            key = fingerprint([spec.name, "archive", sha])
            read = lambda: read_archive(path, lambda p: is_batch_file(p) or is_imagefolder_file(p))  # noqa: E731
        else:
            sha = None
            base, names = _folder_files(path)
            key = fingerprint([spec.name, "folder", str(base.resolve()),
                               *stat_fingerprint_parts(base, names)])
            read = lambda: read_tree(base, names)  # noqa: E731
    except CopyUnreadable as err:
        raise dataset_error(spec, str(err), looked_for, path, root) from err

    def decode() -> ImageDataset:
        try:
            splits, provenance = _decode(read(), spec)
        except CopyUnreadable as err:
            raise dataset_error(spec, str(err), looked_for, path, root) from err
        return build_dataset(spec, splits, KNOWN_ARCHIVES.get(sha, provenance), str(path.resolve()), sha,
                             looked_for, path, root)
    return cached(root, spec.name, key, decode)


def _folder_files(folder: Path) -> tuple[Path, list[str]]:
    """The folder that really holds the copy, and the files of it to read."""
    for base in (folder, folder / TORCHVISION_FOLDER):
        present = [n for n in BATCH_FILES if (base / n).is_file()]
        if present:
            return base, present  # read_batches names any missing batch
    subdirs = [d for d in sorted(folder.iterdir()) if d.is_dir()]
    for base in (folder, *subdirs):
        if any((base / s).is_dir() for s in SPLITS):
            names = [n for n in list_tree(base, is_imagefolder_file) if n.count("/") == 2]
            return base, names
    listing = ", ".join(sorted(p.name for p in folder.iterdir())[:8]) or "nothing"
    raise CopyUnreadable(f"neither {TORCHVISION_FOLDER} batch files nor train/ and test/ class "
                         f"folders were found; the folder holds: {listing}")


def _decode(files: dict[str, bytes], spec: DatasetSpec):
    if any(is_batch_file(n) for n in files):
        return read_batches(files, spec), f"{spec.title} (local torchvision copy, original)"
    if not files:
        raise CopyUnreadable(f"no {TORCHVISION_FOLDER} batch files and no train/<class>/<image> "
                             "or test/<class>/<image> files inside")
    splits, encoding = read_imagefolder(files, spec)
    if encoding.startswith("JPEG q"):
        return splits, f"{spec.title} ({encoding} copy)"
    if encoding.startswith("JPEG"):
        return splits, f"{spec.title} (JPEG copy, {encoding.removeprefix('JPEG, ')})"
    return splits, f"{spec.title} (ImageFolder copy, {encoding})"


def _load_torchvision(root: Path, download: bool | None, spec: DatasetSpec) -> ImageDataset:
    from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10

    # torchvision checks the official files' md5 before unpickling them.
    return load_with_torchvision(
        root, download, spec, lambda r, train, dl: TorchvisionCIFAR10(r, train=train, download=dl),
        TORCHVISION_FOLDER, lambda s: (torch.from_numpy(s.data).permute(0, 3, 1, 2).contiguous(),
                                       torch.as_tensor(s.targets, dtype=torch.int64)))
