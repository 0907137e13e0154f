"""Measure the GPU-time estimate's rates from run logs, and check the estimate against them.

`budget` turns each run's FLOPs, epochs and compile flag into minutes with a few rates (sustained
TFLOP/s per model family, start-up, compilation, per-epoch overhead, augmentation). They are
assumptions until a GPU window writes data/results/calibration.json from its finished runs
(`write_calibration`); the budget reads that file from then on. `python -m vitcourse calibrate`
lists, per run, the estimate at the assumed and at the calibrated rates beside the measured
minutes (set-up plus training wall time, from the logs), with a least-squares fit of one rate
for all families as a cross-check:

    measured seconds = tflop / rate + epochs * epoch_s + startup_s + compiled * compile_s
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class Fit:
    tflops: float
    startup_min: float
    compile_min: float | None   # None: no compiled run to fit it from (the assumption stays)
    epoch_s: float
    runs: int
    rms_error_min: float

    def minutes(self, terms: budget.CostTerms) -> float:
        compile_min = budget.COMPILE_MIN if self.compile_min is None else self.compile_min
        return terms.minutes(self.tflops, self.startup_min, compile_min, self.epoch_s)


def measured_runs(names=None) -> list[Measured]:
    """Every finished, valid full-profile run of the registered experiments (or of `names`)."""
    rows = []
    for name in names or list(EXPERIMENTS):
        spec = EXPERIMENTS[name].profile("full")
        for run in load_runs(name, "full"):
            terms = budget.cost_terms(budget.trained_spec(spec, run.log))
            rows.append(Measured(name, run.seed, terms, total_minutes(run), run.log["device"]["name"]))
    return rows


def fit_constants(rows: list[Measured]) -> Fit | None:
    """Least-squares constants from measured runs; None with fewer runs than unknowns."""
    compiled = any(r.terms.compile for r in rows) and not all(r.terms.compile for r in rows)
    columns = 4 if compiled else 3
    if len(rows) < columns + 1:
        return None
    a = np.array([[r.terms.tflop, r.terms.epochs, 1.0] + ([float(r.terms.compile)] if compiled else [])
                  for r in rows])
    b = np.array([60.0 * r.minutes - (0.0 if compiled else 60.0 * budget.COMPILE_MIN * r.terms.compile)
                  for r in rows])
    coef, *_ = np.linalg.lstsq(a, b, rcond=None)
    seconds_per_tflop, epoch_s, startup_s = coef[:3]
    if seconds_per_tflop <= 0:
        return None   # the FLOP term is not identifiable from these runs
    fit = Fit(tflops=1.0 / seconds_per_tflop, startup_min=startup_s / 60,
              compile_min=coef[3] / 60 if compiled else None, epoch_s=float(epoch_s), runs=len(rows),
              rms_error_min=0.0)
    error = np.sqrt(np.mean([(fit.minutes(r.terms) - r.minutes) ** 2 for r in rows]))
    return replace(fit, rms_error_min=float(error))


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
    lines.append(f"calibrated ({rates.source}): TFLOP/s {rate_text}; start-up {rates.startup_min:.3f} min, "
                 f"compilation {rates.compile_min:.2f} min, {rates.epoch_s:.3f} s per epoch, "
                 f"measured with {rates.workers} run(s) sharing the GPU")
    fit = fit_constants(rows)
    if fit is None:
        lines.append("least-squares cross-check: not enough runs (or too alike) to fit the constants yet")
    else:
        compile_text = "no compiled run to fit" if fit.compile_min is None else f"{fit.compile_min:.2f} min"
        lines.append(f"least-squares cross-check (one rate for all families): {fit.tflops:.1f} TFLOP/s, start-up "
                     f"{fit.startup_min:.2f} min, compilation {compile_text}, {fit.epoch_s:.2f} s per epoch "
                     f"(rms error {fit.rms_error_min:.2f} min over {fit.runs} runs)")
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


def calibration_from_runs(augment_us: dict[str, float] | None = None, workers: int = 1) -> dict | None:
    """The rates measured by the finished full-profile runs, as `budget.Rates` reads them:
    per model family, eager and compiled apart ("vit", "vit+compile"), FLOPs over steady training
    and test time (compilation's first epoch left out, the augmentation's measured cost taken off),
    at `workers` runs sharing the GPU (the window's setting, recorded); compilation as the first epoch's excess
    over the steady median; start-up and per-epoch overhead as medians. None without runs."""
    augment_us = {**budget.AUGMENT_US_PER_IMAGE, **(augment_us or {})}
    flop: dict[str, float] = {}
    seconds: dict[str, float] = {}
    compiles, startups, overheads, devices = [], [], [], set()
    for name, exp in EXPERIMENTS.items():
        images = budget.images_per_epoch(exp.profile("full")["data"])
        for run in load_runs(name, "full"):
            terms = budget.cost_terms(budget.trained_spec(exp.profile("full"), run.log))
            epoch_tflop = terms.tflop / max(terms.epochs, 1)   # TFLOP of one average epoch
            epochs = run.log["epochs"]
            steady = epochs[1:] if terms.compile and len(epochs) > 1 else epochs
            aug_s = augment_us.get(terms.augment, 0.0) * 1e-6 * images * len(steady)
            key = f"{terms.family}+compile" if terms.compile else terms.family
            flop[key] = flop.get(key, 0.0) + epoch_tflop * len(steady)
            seconds[key] = seconds.get(key, 0.0) + max(
                sum(e["epoch_time_s"] for e in steady) - aug_s, 1e-9)
            if terms.compile and len(epochs) > 2:
                compiles.append(epochs[0]["epoch_time_s"] - statistics.median(e["epoch_time_s"] for e in epochs[1:]))
            startups.append(run.log.get("setup_time_s", 0.0))
            overheads.append(max(run.log["wall_time_s"] - sum(e["epoch_time_s"] for e in epochs), 0.0) / len(epochs))
            devices.add(run.log["device"]["name"])
    if not flop:
        return None
    return {"device": ", ".join(sorted(devices)), "runs": len(startups),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "tflops": {family: round(flop[family] / seconds[family], 3) for family in flop},
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
