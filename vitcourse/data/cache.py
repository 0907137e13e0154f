"""Decode once, then reload in a fraction of a second: a safetensors file per dataset copy.

Cache files are named by a fingerprint of the source (archive checksum, or file names, sizes and
modification times), so a different copy never reuses another copy's pixels. A cache that fails
to read is treated as absent and rebuilt: it is derived data, never the only copy.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from safetensors.torch import load_file

from vitcourse.atomic import write_json_atomic, write_safetensors_atomic

from .dataset import ImageDataset

# Bump when the decoded pixels or the file layout change, so old caches are ignored.
CACHE_VERSION = 1
TENSOR_KEYS = ("train_images", "train_labels", "test_images", "test_labels")


def fingerprint(parts: Iterable[str]) -> str:
    """A short stable hash of ``parts`` (plus the cache version)."""
    h = hashlib.sha256(f"vitcourse-cache-v{CACHE_VERSION}".encode())
    for part in parts:
        h.update(b"\0" + part.encode())
    return h.hexdigest()[:16]


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def cache_paths(root: str | Path, name: str, key: str) -> tuple[Path, Path]:
    base = Path(root) / "cache" / f"{name}-{key}"
    return base.with_suffix(".safetensors"), base.with_suffix(".json")


def load_cached(root: str | Path, name: str, key: str) -> ImageDataset | None:
    """The cached dataset for ``key``, or None when there is no usable cache."""
    tensor_path, meta_path = cache_paths(root, name, key)
    if not (tensor_path.is_file() and meta_path.is_file()):
        return None
    start = time.perf_counter()
    try:
        meta = json.loads(meta_path.read_text())
        tensors = load_file(str(tensor_path))
        _check(meta, tensors, key)
    except Exception as err:  # any damage: rebuild rather than fail
        warnings.warn(f"ignoring unreadable dataset cache {tensor_path} ({err}); decoding again")
        return None
    ds = ImageDataset(name=meta["name"], classes=list(meta["classes"]),
                      provenance=meta["provenance"], source=meta["source"],
                      source_sha256=meta.get("source_sha256"),
                      **{k: tensors[k] for k in TENSOR_KEYS})
    ds.load_info = {"cache_file": str(tensor_path), "from_cache": True,
                    "seconds": round(time.perf_counter() - start, 3),
                    "decode_seconds": meta.get("decode_seconds")}
    return ds


def _check(meta: dict[str, Any], tensors: dict[str, torch.Tensor], key: str) -> None:
    if meta.get("version") != CACHE_VERSION or meta.get("key") != key:
        raise ValueError("cache version or key mismatch")
    for split in ("train", "test"):
        images, labels = tensors[f"{split}_images"], tensors[f"{split}_labels"]
        if images.dtype != torch.uint8 or labels.dtype != torch.int64:
            raise ValueError(f"{split} tensors have the wrong dtype")
        if images.ndim != 4 or len(images) != len(labels) or len(labels) != meta[f"{split}_size"]:
            raise ValueError(f"{split} tensors have the wrong shape")


def cached(root: str | Path, name: str, key: str, build: Callable[[], ImageDataset]) -> ImageDataset:
    """The cached dataset for ``key``; without one, ``build()`` decodes it (timed) and the result
    is saved as the cache for ``key``. Every loader, online or offline, goes through here."""
    if (ds := load_cached(root, name, key)) is not None:
        return ds
    start = time.perf_counter()
    ds = build()
    save_cache(root, ds, key, time.perf_counter() - start)
    return ds


def save_cache(root: str | Path, ds: ImageDataset, key: str, decode_seconds: float) -> Path:
    """Write ``ds`` as the cache for ``key`` (atomically: a killed write leaves no half file)."""
    tensor_path, meta_path = cache_paths(root, ds.name, key)
    tensor_path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"version": CACHE_VERSION, "key": key, "name": ds.name, "classes": ds.classes,
            "provenance": ds.provenance, "source": ds.source, "source_sha256": ds.source_sha256,
            "train_size": len(ds.train_labels), "test_size": len(ds.test_labels),
            "decode_seconds": round(decode_seconds, 3),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    # Tensors first, metadata last: a reader that sees the metadata also sees complete tensors.
    write_safetensors_atomic(tensor_path, {k: getattr(ds, k) for k in TENSOR_KEYS})
    write_json_atomic(meta_path, meta)
    ds.load_info = {"cache_file": str(tensor_path), "from_cache": False,
                    "seconds": round(decode_seconds, 3), "decode_seconds": round(decode_seconds, 3)}
    return tensor_path
