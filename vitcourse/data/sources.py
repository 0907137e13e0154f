"""Decide where a dataset comes from: an explicit local copy, or torchvision.

The rule every loader follows: ``local=`` wins, then the dataset's environment variable; if
either names a copy, that copy is used or the load fails -- it never falls back to downloading.
"""

from __future__ import annotations

import os
from pathlib import Path

from .specs import DatasetSpec


def pick_local(spec: DatasetSpec, local: str | Path | None,
               download: bool | None) -> tuple[Path, str] | None:
    """``(path, how it was given)`` of the requested local copy, or None to use torchvision."""
    how = "local="
    if local is None:
        local, how = os.environ.get(spec.env_var) or None, f"${spec.env_var}"
    if local is None:
        return None
    if download:
        raise ValueError(f"load_{spec.name}: both a local copy ({how} {str(local)!r}) and "
                         f"download=True were given; drop one (unset {spec.env_var} to download)")
    return Path(local).expanduser(), how
