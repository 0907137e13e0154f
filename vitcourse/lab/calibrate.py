"""Measure the GPU-time estimate's rates from run logs, and check the estimate against them.

`budget` turns each run's FLOPs, steps, epochs and compile flag into minutes with a few rates
(per model family a sustained TFLOP/s and a fixed cost per step, then start-up, compilation,
per-epoch overhead and augmentation per image). They are assumptions until a GPU window writes
data/results/calibration.json from its finished runs (`write_calibration`); the budget reads that
file from then on. The first window showed why a FLOP rate alone does not do: its small ViTs took
about 15 ms per step whatever the batch size, the time Python needs to launch their kernels one by
one, so per step

    seconds = step_s + tflop_per_step / rate     (per family, fitted; `fit_rates`)

`python -m vitcourse calibrate` lists, per run, the estimate at the assumed and at the calibrated
rates beside the measured minutes (set-up plus training wall time, from the logs).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vitcourse.atomic import write_json_atomic

from . import budget
from .bench import pipeline_images_per_s
from .summaries import total_minutes
from .registry import EXPERIMENTS
from .results import load_runs


@dataclass(frozen=True)
class Measured:
    experiment: str
    seed: int
    terms: budget.CostTerms
    minutes: float
    device: str


def measured_runs(names=None) -> list[Measured]:
    """Every finished, valid full-profile run of the registered experiments (or of `names`)."""
    rows = []
    for name in names or list(EXPERIMENTS):
        spec = EXPERIMENTS[name].profile("full")
        for run in load_runs(name, "full"):
            terms = budget.cost_terms(budget.trained_spec(spec, run.log))
            rows.append(Measured(name, run.seed, terms, total_minutes(run), run.log["device"]["name"]))
    return rows


def report(names=None) -> str:
    """Per run: the estimate at the assumed constants (what the chapters were planned with), at the
    calibrated rates (calibration.json, what the window plans with now), and the measured minutes."""
    rows = measured_runs(names)
    if not rows:
        return "no finished full-profile runs yet: nothing to calibrate against (the estimate is all assumption)"
    rates = budget.current_rates()
    lines = [f"{'experiment':30s} seed {'assumed':>8s} {'calibrated':>10s} {'measured':>9s}  device"]
    for r in rows:
        lines.append(f"{r.experiment:30s} {r.seed:4d} {r.terms.minutes():8.2f} {r.terms.estimate(rates):10.2f} "
                     f"{r.minutes:9.2f}  {r.device}")
    assumed, calibrated, measured = (sum(r.terms.minutes() for r in rows), sum(r.terms.estimate(rates) for r in rows),
                                     sum(r.minutes for r in rows))
    lines.append(f"total: assumed {assumed:.1f} min, calibrated {calibrated:.1f} min, measured {measured:.1f} min "
                 f"over {len(rows)} runs (devices: {', '.join(sorted({r.device for r in rows}))})")
    lines.append(f"assumed: {budget.ASSUMED_TFLOPS:g} TFLOP/s, start-up {budget.STARTUP_MIN_PER_RUN} min, "
                 f"compilation {budget.COMPILE_MIN} min, {budget.EPOCH_OVERHEAD_S} s per epoch")
    rate_text = ", ".join(f"{family} {tflops:g}" for family, tflops in rates.tflops.items())
    steps = ", ".join(f"{family} {ms:g}" for family, ms in rates.step_ms.items()) or "none"
    lines.append(f"calibrated ({rates.source}): TFLOP/s {rate_text}; ms per step {steps}; start-up "
                 f"{rates.startup_min:.3f} min, compilation {rates.compile_min:.2f} min, {rates.epoch_s:.3f} s "
                 f"per epoch, measured with {rates.workers} run(s) sharing the GPU")
    if rates.source != "assumed":
        errors = [(r.minutes / r.terms.estimate(rates), r.experiment) for r in rows]
        rms = np.sqrt(np.mean([(r.terms.estimate(rates) - r.minutes) ** 2 for r in rows]))
        low, high = min(errors), max(errors)
        lines.append(f"calibrated estimate: rms error {rms:.2f} min; measured/estimated from {low[0]:.2f} "
                     f"({low[1]}) to {high[0]:.2f} ({high[1]})")
    return "\n".join(lines)


# -- the calibration file a GPU window writes and `budget.current_rates` reads ---------------------

AUGMENT_PRESETS = {"light": "basic", "policy": "randaug"}   # one preset per augmentation kind


def measure_augmentation(device: str | torch.device) -> dict[str, float]:
    """Microseconds per image of the GPU input pipeline (augmentation included), per kind: the
    benchmark's pipeline rate, a few seconds on any device."""
    device = torch.device(device)
    batch, steps = (512, 10) if device.type == "cuda" else (16, 1)   # a CPU only simulates
    return {kind: round(1e6 / pipeline_images_per_s(device, batch, steps, augment=preset), 3)
            for kind, preset in AUGMENT_PRESETS.items()}


@dataclass(frozen=True)
class Steady:
    """One run's steady epochs (compilation's first epoch left out): what the rates are fitted to."""
    key: str             # "vit", or "vit+compile" for a compiled run
    steps: float
    tflop: float
    augment: str         # the augmentation kind (budget.augment_kind), "+compile" for a compiled run
    augmented_images: float
    seconds: float


MIN_RUNS_PER_STEP_FIT = 3   # a family's per-step cost and FLOP rate are told apart from this many runs


def fit_rates(runs: list[Steady], augment_us: dict[str, float]) -> tuple[dict, dict, dict]:
    """(TFLOP/s, ms per step, us per augmented image) that explain the runs' steady seconds,
    all >= 0: a non-negative least-squares fit over the families with enough runs, each with its
    own per-step cost and FLOP rate, and one augmentation cost per kind shared by all (compiled
    augmentation, "policy+compile", is a kind of its own). A family with fewer runs gets FLOPs over
    seconds, no per-step cost: the eager augmentation's cost (fitted, or the benchmark's) is taken
    off first; a compiled one's, never measured alone, stays in the rate and is recorded as 0 so
    that estimates do not count it twice. Where a family's runs do not tell its FLOP rate (their time
    did not grow with their FLOPs, or only beyond the H100's dense bf16 peak), the assumed rate
    stays: a larger model of that family will be bound by its FLOPs."""
    counts = Counter(r.key for r in runs)
    fitted_keys = sorted(k for k, n in counts.items() if n >= MIN_RUNS_PER_STEP_FIT)
    inside = [r for r in runs if r.key in fitted_keys]
    kinds = sorted({r.augment for r in inside if r.augmented_images > 0})
    columns = [(k, term) for k in fitted_keys for term in ("steps", "tflop")] + [("augment", k) for k in kinds]
    where = {column: j for j, column in enumerate(columns)}
    a = np.zeros((len(inside), len(columns)))
    for i, r in enumerate(inside):   # each run: its family's two terms and its augmentation kind
        a[i, where[(r.key, "steps")]], a[i, where[(r.key, "tflop")]] = r.steps, r.tflop
        if ("augment", r.augment) in where:
            a[i, where[("augment", r.augment)]] = r.augmented_images
    x = _nonnegative_lstsq(a, np.array([r.seconds for r in inside]))
    value = dict(zip(columns, x))
    augment_us = {**augment_us, **{k: round(1e6 * value[("augment", k)], 3) for k in kinds}}
    tflops, step_ms = {}, {}
    for key in fitted_keys:
        rate = 1.0 / value[(key, "tflop")] if value[(key, "tflop")] > 0 else float("inf")
        tflops[key] = round(rate if rate <= budget.H100_PEAK_TFLOPS else budget.ASSUMED_TFLOPS, 3)
        step_ms[key] = round(1000 * value[(key, "steps")], 3)
    flop: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for r in runs:
        if r.key not in fitted_keys:
            flop[r.key] = flop.get(r.key, 0.0) + r.tflop
            seconds[r.key] = seconds.get(r.key, 0.0) + max(
                r.seconds - augment_us.get(r.augment, 0.0) * 1e-6 * r.augmented_images, 1e-9)
    tflops.update({key: round(flop[key] / seconds[key], 3) for key in flop})
    for r in runs:   # compiled augmentation not fitted: its cost is inside that family's rate
        if r.augmented_images > 0 and r.augment not in augment_us:
            augment_us[r.augment] = 0.0
    return tflops, step_ms, augment_us


def _nonnegative_lstsq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """argmin |a x - b| over x >= 0: Lawson and Hanson's active-set method (no SciPy on the GPU
    machine). Columns are scaled to unit norm first: they differ by orders of magnitude."""
    n = a.shape[1]
    scale = np.maximum(np.linalg.norm(a, axis=0), 1e-30)
    a = a / scale
    x, free = np.zeros(n), np.zeros(n, dtype=bool)   # free: the columns not held at zero
    tol = 1e-10 * max(1.0, float(np.abs(a.T @ b).max(initial=0.0)))
    for _ in range(3 * n):
        gradient = a.T @ (b - a @ x)
        if free.all() or gradient[~free].max() <= tol:
            break
        free[np.argmax(np.where(free, -np.inf, gradient))] = True
        while True:
            z = np.zeros(n)
            z[free] = np.linalg.lstsq(a[:, free], b, rcond=None)[0]
            if (z[free] > 0).all():
                x = z
                break
            # Step from x towards z until the first free coefficient reaches zero; hold it there.
            blocking = free & (z <= 0)
            x = x + np.min(x[blocking] / (x[blocking] - z[blocking])) * (z - x)
            free &= x > tol
            x[~free] = 0.0
    return x / scale


def calibration_from_runs(augment_us: dict[str, float] | None = None, workers: int = 1) -> dict | None:
    """The rates measured by the finished full-profile runs, as `budget.Rates` reads them: per
    model family, eager and compiled apart ("vit", "vit+compile"), a FLOP rate and a fixed cost per
    step, with the augmentation's cost per image, fitted to steady training and test time
    (`fit_rates`; `augment_us`, the benchmark's, stands for a kind no run used), at `workers`
    runs sharing the GPU (the window's setting, recorded); compilation as the first epoch's excess
    over the steady median; start-up and per-epoch overhead as medians. None without runs."""
    augment_us = {**budget.AUGMENT_US_PER_IMAGE, **(augment_us or {})}
    steady_runs: list[Steady] = []
    compiles, startups, overheads, devices = [], [], [], set()
    for name, exp in EXPERIMENTS.items():
        for run in load_runs(name, "full"):
            terms = budget.cost_terms(budget.trained_spec(exp.profile("full"), run.log))
            epochs = run.log["epochs"]
            steady = epochs[1:] if terms.compile and len(epochs) > 1 else epochs
            share = len(steady) / max(terms.epochs, 1)   # of the run's steps, FLOPs and images
            key = f"{terms.family}+compile" if terms.compile else terms.family
            augment = f"{terms.augment}+compile" if terms.compile else terms.augment
            steady_runs.append(Steady(key, terms.steps * share, terms.tflop * share, augment,
                                      terms.augmented_images * share, sum(e["epoch_time_s"] for e in steady)))
            if terms.compile and len(epochs) > 2:
                compiles.append(epochs[0]["epoch_time_s"] - statistics.median(e["epoch_time_s"] for e in epochs[1:]))
            startups.append(run.log.get("setup_time_s", 0.0))
            overheads.append(max(run.log["wall_time_s"] - sum(e["epoch_time_s"] for e in epochs), 0.0) / len(epochs))
            devices.add(run.log["device"]["name"])
    if not steady_runs:
        return None
    tflops, step_ms, augment_us = fit_rates(steady_runs, augment_us)
    return {"device": ", ".join(sorted(devices)), "runs": len(startups),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "tflops": tflops, "step_ms": step_ms,
            "startup_min": round(statistics.median(startups) / 60, 4),
            "compile_min": round(statistics.median(compiles) / 60, 4) if compiles else budget.COMPILE_MIN,
            "epoch_s": round(statistics.median(overheads), 4),
            "augment_us": augment_us, "workers": workers}


def write_calibration(augment_us: dict[str, float] | None = None, workers: int | None = None) -> Path | None:
    """Write data/results/calibration.json from the finished full runs (None: no runs yet). The
    augmentation cost and worker count of an earlier window are kept when not given."""
    path = budget.calibration_path()
    earlier = json.loads(path.read_text()) if path.is_file() else {}
    augment_us = earlier.get("augment_us") if augment_us is None else augment_us
    workers = int(earlier.get("workers", 1)) if workers is None else workers
    data = calibration_from_runs(augment_us, workers)
    if data is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, data)
    return path
