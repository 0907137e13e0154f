"""Small result arrays as .npz files: written atomically, read back only after validation.

The book plots arrays saved by GPU runs (maps, per-head statistics, curves) without loading any
weights. A file can still be truncated, hand-edited or written by an older version of the code,
so every read checks it against a schema -- the keys it must have, their number of dimensions,
their kind (float, integer, text) and dimension sizes shared between keys -- and a file that
fails is reported by name and skipped, never drawn as if it were complete.
Reading uses numpy.load(allow_pickle=False): no object arrays, so no code can run on load.
The schemas live beside the code that computes the arrays (`vitcourse.interpret.record`,
`vitcourse.light.record`); this module reads and writes the files.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from vitcourse.atomic import write_atomic
from vitcourse.interpret import record as interpret_record
from vitcourse.light import record as light_record
from vitcourse.reporting import report_skipped

from . import paths
from .results import is_finished

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


# ---- the arrays saved beside a run's log -----------------------------------------------------------

def load_run_arrays(experiment: str, profile: str, filename: str, schema: Schema,
                    problems: list[str] | None = None) -> dict[int, dict[str, np.ndarray]]:
    """{seed: arrays} for every seed directory of a run that has a valid `filename`."""
    base = paths.results_root(profile) / experiment / profile
    found = {}
    for path in sorted(base.glob(f"seed*/{filename}")):
        if not path.parent.name[4:].isdigit():
            continue
        arrays = load_arrays(path, schema, problems)
        if arrays is not None:
            found[int(path.parent.name[4:])] = arrays
    return found


def read_inspection(experiment: str, profile: str, vit: bool = True, problems: list[str] | None = None) -> dict:
    """{seed: arrays} of an experiment's inspection files (chapter 6) that pass validation."""
    schema = interpret_record.VIT_SCHEMA if vit else interpret_record.COMMON
    return load_run_arrays(experiment, profile, interpret_record.FILENAME, schema, problems)


def read_light(experiment: str, profile: str, problems: list[str] | None = None) -> dict:
    """{seed: arrays} of an experiment's compression and speed files (chapter 7)."""
    return load_run_arrays(experiment, profile, light_record.FILENAME, light_record.SCHEMA, problems)


def read_distill(experiment: str, profile: str, problems: list[str] | None = None) -> dict:
    """{seed: arrays} of an experiment's distillation files (chapter 7)."""
    return load_run_arrays(experiment, profile, light_record.DISTILL_FILENAME, light_record.DISTILL_SCHEMA, problems)


def _read(path: Path | None):
    """The arrays of an .npz beside a run log; None if there is none yet, or (reported by name) if
    it is unreadable."""
    return load_arrays(path, {}) if path is not None and path.is_file() else None


def run_arrays(run, filename: str):
    """The .npz saved beside a run's log (a `vitcourse.lab.results.Run`), or None if it has none."""
    return _read(Path(run.path).parent / filename)


def mean_confusion(runs) -> np.ndarray | None:
    """Confusion matrices of several seeds, summed (None if a run lacks per_class.npz)."""
    arrays = [run_arrays(r, "per_class.npz") for r in runs]
    if not arrays or any(a is None for a in arrays):
        return None
    return np.sum([a["confusion"] for a in arrays], axis=0)


def best_finished_run(experiment: str, seed: int = 0):
    """(run folder, profile) of `experiment`'s best finished run: full, else cpu, else smoke;
    (None, None) if none. Unlike `load_runs`, this also serves pre-training runs, which log no
    test accuracy."""
    for profile in ("full", "cpu", "smoke"):
        if is_finished(experiment, profile, seed):
            return paths.run_dir(experiment, profile, seed), profile
    return None, None


def finished_run(experiment: str, seed: int = 0):
    """(run folder, is_smoke) of `experiment`'s best finished run (see best_finished_run);
    (None, True) if there is none."""
    folder, profile = best_finished_run(experiment, seed)
    return folder, profile in (None, "smoke")


def saved_arrays(experiment: str, filename: str, seed: int = 0):
    """(arrays, is_smoke): the .npz `filename` saved by `experiment`'s finished run (see finished_run)."""
    folder, smoke = finished_run(experiment, seed)
    return _read(None if folder is None else folder / filename), smoke
