"""Atomic file writes: write a temporary file next to the target, flush it to disk, then rename.

``os.replace`` is atomic on POSIX and Windows, so a reader (or a resumed run after a kill) sees
either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file


def _tmp_path(path: Path) -> Path:
    # Hidden, and keeping the suffix so ignore rules for the real file (*.safetensors) cover it.
    return path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")


def _commit(tmp: Path, path: Path) -> None:
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())  # the data is on disk before the name points at it
    os.replace(tmp, path)


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    path = Path(path)
    tmp = _tmp_path(path)
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    _commit(tmp, path)


def write_safetensors_atomic(path: str | os.PathLike, tensors: dict[str, torch.Tensor]) -> None:
    """Save CPU copies (safetensors needs contiguous tensors that share no memory)."""
    path = Path(path)
    tmp = _tmp_path(path)
    save_file({k: v.detach().to("cpu", copy=True).contiguous() for k, v in tensors.items()}, str(tmp))
    _commit(tmp, path)


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())
