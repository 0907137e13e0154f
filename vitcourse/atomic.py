"""Atomic file writes (and the file checksum that checks them on reading): write a temporary
file next to the target, flush it to disk, then rename.

``os.replace`` is atomic on POSIX and Windows, so a reader (or a resumed run after a kill) sees
either the old file or the new one, never half of one. Every file the package writes for later
reading goes through here: checkpoints, run logs, the dataset cache, the chapters' arrays.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import save_file


def process_running(pid: int) -> bool:
    """Whether process `pid` exists on this machine (a temporary file or lock of a dead one is stale)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # exists, owned by another user
        return True
    return True


def _tmp_path(path: Path) -> Path:
    # Hidden, and keeping the suffix so ignore rules for the real file (*.safetensors) cover it.
    return path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")


def write_atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """``write(tmp)`` writes the content to a temporary path; it then replaces ``path`` whole."""
    path = Path(path)
    tmp = _tmp_path(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())  # the data is on disk before the name points at it
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n"))


def write_safetensors_atomic(path: str | os.PathLike, tensors: dict[str, torch.Tensor]) -> None:
    """Save CPU copies (safetensors needs contiguous tensors that share no memory)."""
    copies = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in tensors.items()}
    write_atomic(path, lambda tmp: save_file(copies, str(tmp)))


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
