"""Test-session settings shared by unit tests and notebooks (nbval kernels inherit this environment).

The offline CIFAR-10 copy sits beside the repository on development and CI machines; point
VITCOURSE_CIFAR10 at it unless the caller chose a copy already. Online readers need nothing.
"""

import os
from pathlib import Path

_shared = Path(__file__).resolve().parent.parent / "shared/data/cifar10-jpeg75.tar.gz"
if "VITCOURSE_CIFAR10" not in os.environ and _shared.is_file():
    os.environ["VITCOURSE_CIFAR10"] = str(_shared)
