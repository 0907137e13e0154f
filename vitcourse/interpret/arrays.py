"""Small result arrays as .npz files: written atomically, read back only after validation.

The book plots arrays saved by GPU runs (maps, per-head statistics, curves) without loading any
weights. A file can still be truncated, hand-edited or written by an older version of the code,
so every read checks it against a schema -- the keys it must have, their number of dimensions,
their kind (float, integer, text) and dimension sizes shared between keys -- and a file that
fails is reported by name and skipped, never drawn as if it were complete.
Reading uses numpy.load(allow_pickle=False): no object arrays, so no code can run on load.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from vitcourse.atomic import write_atomic
from vitcourse.reporting import report_skipped

# schema: {key: (kind, shape)}: kind is a numpy dtype kind ("f" float, "i" int, "u" unsigned,
# "U" text, "b" bool, "n" any number; "fnan": float where NaN means "not measured"); shape a tuple whose items are ints (exact size) or names
# (a size shared by every key that uses the same name).
Schema = dict[str, tuple[str, tuple]]

_NUMBER_KINDS = "fiub"


def save_arrays(path: str | os.PathLike, **arrays: Any) -> Path:
    """Write arrays to `path` (.npz, compressed) via a temporary file and a rename, so a reader
    never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {}
    for key, value in arrays.items():
        a = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
        if a.dtype == object:
            raise TypeError(f"array {key!r} has dtype object, which cannot be read back without pickle")
        clean[key] = a
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **clean)
    return write_atomic(path, write)


def check_arrays(arrays: dict[str, np.ndarray], schema: Schema) -> list[str]:
    """Problems of `arrays` against `schema` (empty list: fine)."""
    problems, sizes = [], {}
    for key, (kind, shape) in schema.items():
        if key not in arrays:
            problems.append(f"missing array {key!r}")
            continue
        a = arrays[key]
        ok_kind = (a.dtype.kind in _NUMBER_KINDS if kind == "n" else
                   a.dtype.kind == "f" if kind == "fnan" else a.dtype.kind == kind)
        if not ok_kind:
            problems.append(f"{key!r} has dtype {a.dtype}, expected kind {kind!r}")
            continue
        if a.ndim != len(shape):
            problems.append(f"{key!r} has shape {a.shape}, expected {len(shape)} dimension(s) {shape}")
            continue
        for axis, (want, got) in enumerate(zip(shape, a.shape)):
            if isinstance(want, int):
                if got != want:
                    problems.append(f"{key!r} axis {axis} has size {got}, expected {want}")
            elif sizes.setdefault(want, (got, key))[0] != got:
                problems.append(f"{key!r} axis {axis} ({want}) has size {got}, but {sizes[want][1]!r} says {sizes[want][0]}")
        if kind == "fnan":
            if np.isinf(a).any():
                problems.append(f"{key!r} contains inf")
        elif a.dtype.kind == "f" and not np.isfinite(a).all():
            problems.append(f"{key!r} contains NaN or inf")
    return problems


def load_arrays(path: str | os.PathLike, schema: Schema, problems: list[str] | None = None) -> dict[str, np.ndarray] | None:
    """The arrays of `path` if it reads and matches `schema`; otherwise warn, record the problem
    in `problems` and return None."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}  # read every member now: truncation shows up here
        issues = check_arrays(arrays, schema)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        issues = [f"unreadable ({type(err).__name__}: {err})"]
    if issues:
        report_skipped(path, issues, problems)
        return None
    return arrays


def load_run_arrays(experiment: str, profile: str, filename: str, schema: Schema,
                    problems: list[str] | None = None) -> dict[int, dict[str, np.ndarray]]:
    """{seed: arrays} for every seed directory of a run that has a valid `filename`."""
    from vitcourse.experiments import paths  # late: the experiments package imports this one's users

    base = paths.results_root(profile) / experiment / profile
    found = {}
    for path in sorted(base.glob(f"seed*/{filename}")):
        if not path.parent.name[4:].isdigit():
            continue
        arrays = load_arrays(path, schema, problems)
        if arrays is not None:
            found[int(path.parent.name[4:])] = arrays
    return found
