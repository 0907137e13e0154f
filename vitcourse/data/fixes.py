"""Build the one error message every loader raises: the problem, and the two ways to fix it."""

from __future__ import annotations

import os
from pathlib import Path

from vitcourse import REPO_ROOT

from .errors import DatasetNotFoundError
from .specs import DatasetSpec

# Where the course keeps offline copies next to a checkout (see ../shared/data/README.md).
_KNOWN_COPIES = {
    "cifar10": [REPO_ROOT.parent / "shared/data/cifar10-jpeg75.tar.gz"],
    "fashion_mnist": [Path("/usr/share/datasets/fashion-mnist")],
}

_LAYOUTS = {
    "cifar10": ("a cifar-10-batches-py folder, an ImageFolder tree (train/<class>/*, "
                "test/<class>/*) or a .tar.gz of either"),
    "fashion_mnist": ("a folder with the four IDX files (train-images-idx3-ubyte.gz, "
                      "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
                      "t10k-labels-idx1-ubyte.gz), e.g. Debian's dataset-fashion-mnist package"),
}


def dataset_error(spec: DatasetSpec, problem: str, looked_for: str, where: str | Path,
                  root: str | Path) -> DatasetNotFoundError:
    """The standard error for ``spec``; ``root`` is the loader's download/cache folder."""
    loader = f"load_{spec.name}"
    unset = f"; unset {spec.env_var} first" if os.environ.get(spec.env_var) else ""
    fixes = [
        f"point at a local copy: `export {spec.env_var}=/path/to/copy` before `python -m vitcourse` "
        f"or a notebook (from Python: {loader}(local='/path/to/copy')); the copy is {_LAYOUTS[spec.name]}",
        f"go online: with network access the original is downloaded through torchvision into "
        f"{str(root)!r}{unset}",
    ]
    hints = [f"a copy exists at {p}: export {spec.env_var}={p}"
             for p in _KNOWN_COPIES.get(spec.name, []) if p.exists()]
    return DatasetNotFoundError(spec.title, problem, looked_for, where, fixes, hints)
