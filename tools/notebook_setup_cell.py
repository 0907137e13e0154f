"""The first code cell of every notebook: it installs vitcourse where it is missing (Colab).

Each chapter's "open in Colab" button opens the notebook alone, without the package. This cell
clones the course repository and installs it, so the chapter's imports work and its data/results
(the committed run logs the figures plot) are there; CIFAR-10 then comes through torchvision's
download, the package's default. Where vitcourse is importable (a checkout with the package
installed, nbval, CI) the cell does nothing and prints nothing, so its stored output stays empty.
The page hides it (Jupyter Book's ``remove-cell`` tag); Colab shows it as a one-line form.

    python tools/notebook_setup_cell.py     # insert or refresh the cell in every notebook

tests/test_notebooks.py checks that every notebook starts with exactly this cell.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
CELL_ID = "colab-setup"
TAGS = ["remove-cell"]
SOURCE = '''\
# @title Colab set-up: installs vitcourse where it is missing (else does nothing)
import importlib.util

if importlib.util.find_spec("vitcourse") is None:
    import os
    import subprocess
    import sys

    # the repository, not only the package: the chapters plot its data/results
    checkout = os.path.abspath("..")  # notebooks/ of a checkout, or else a clone
    if not os.path.isfile(os.path.join(checkout, "vitcourse", "__init__.py")):
        checkout = os.path.abspath("vitcourse")
    if not os.path.isdir(checkout):
        subprocess.run(["git", "clone", "--depth", "1",
                        "https://github.com/vitcourse/vitcourse", checkout],
                       check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "-e", checkout, "timm", "matplotlib", "torchvision",
                    "safetensors", "tqdm", "ipywidgets"],
                   check=True)
    sys.path.insert(0, checkout)  # an editable install shows in new kernels only
    importlib.invalidate_caches()'''


def setup_cell() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(SOURCE)
    cell.id = CELL_ID
    cell.metadata = {"cellView": "form", "tags": list(TAGS)}  # cellView: Colab folds it to its title
    return cell


def first_code_cell(nb) -> tuple[int, nbformat.NotebookNode | None]:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            return i, cell
    return len(nb.cells), None


def insert(path: Path) -> bool:
    """Put the set-up cell first among the code cells of `path`; True if the file changed."""
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    nb.cells = [c for c in nb.cells if c.get("id") != CELL_ID]
    i, _ = first_code_cell(nb)
    nb.cells.insert(i, setup_cell())
    if nbformat.writes(nb) == before:
        return False
    nbformat.write(nb, path)
    return True


def main() -> int:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        if insert(path):
            print("updated", path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
