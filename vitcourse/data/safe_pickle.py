"""Read the official CIFAR-10 python batches without trusting arbitrary pickle content.

The ``cifar-10-batches-py`` format *is* pickle, so a folder the user points at has to be
unpickled; we accept that for this one official format only, and restrict what the pickle may
construct to plain containers and numpy arrays, so a tampered file cannot run code.
"""

from __future__ import annotations

import importlib
import io
import pickle
from typing import Any

# (module, name) pairs a numpy array pickle needs; numpy 2 renamed numpy.core to numpy._core.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # how Python 3 writes bytes at protocol 2 (re-saved copies)
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")
        try:  # numpy 2 renamed numpy.core to numpy._core; prefer it to the deprecation shim
            mod = importlib.import_module(module.replace("numpy.core", "numpy._core"))
        except ImportError:
            mod = importlib.import_module(module)
        return getattr(mod, name)


def load_batch(data: bytes) -> dict:
    """One CIFAR batch file's dict. Python 2 wrote it: latin1 is the decoding numpy arrays need."""
    return _NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
