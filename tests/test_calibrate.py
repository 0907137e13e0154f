"""Fitting the GPU-time estimate's constants to measured runs."""

import pytest

from vitcourse.lab import budget
from vitcourse.lab.calibrate import Measured, fit_constants, measured_runs, report


def _rows(tflops, startup_min, compile_min, epoch_s, noise=0.0):
    import random

    rng = random.Random(0)
    rows = []
    for i, (tflop, epochs, compiled) in enumerate([(30, 6, False), (120, 10, False), (400, 250, True),
                                                   (15, 120, False), (250, 50, True), (60, 25, False),
                                                   (90, 10, True)]):
        terms = budget.CostTerms(tflop, epochs, compiled)
        minutes = terms.minutes(tflops, startup_min, compile_min, epoch_s) * (1 + noise * rng.uniform(-1, 1))
        rows.append(Measured(f"run{i}", 0, terms, minutes, "NVIDIA H100 80GB HBM3"))
    return rows


def test_fit_recovers_the_constants_that_made_the_times():
    fit = fit_constants(_rows(tflops=35.0, startup_min=0.2, compile_min=0.7, epoch_s=0.4))
    assert fit.tflops == pytest.approx(35.0, rel=1e-6) and fit.startup_min == pytest.approx(0.2, abs=1e-6)
    assert fit.compile_min == pytest.approx(0.7, abs=1e-6) and fit.epoch_s == pytest.approx(0.4, abs=1e-6)
    assert fit.rms_error_min < 1e-6 and fit.runs == 7
    noisy = fit_constants(_rows(35.0, 0.2, 0.7, 0.4, noise=0.03))
    assert noisy.tflops == pytest.approx(35.0, rel=0.2) and noisy.rms_error_min > 0


def test_without_compiled_runs_the_compilation_assumption_stays():
    rows = [r for r in _rows(50.0, 0.1, 0.5, 0.25) if not r.terms.compile]
    fit = fit_constants(rows)
    assert fit.compile_min is None and fit.tflops == pytest.approx(50.0, rel=1e-6)
    assert fit_constants(rows[:3]) is None                 # fewer runs than unknowns + 1


def test_report_with_and_without_results(isolated_results):
    assert measured_runs() == []
    assert "no finished full-profile runs yet" in report()


def test_measured_runs_read_the_logs_of_finished_runs(isolated_results, registered):
    import dataclasses

    from helpers import TINY
    from vitcourse.lab import run_experiment

    exp = dataclasses.replace(TINY, name="_test_calibrate")
    registered(exp)
    for seed in exp.seeds_for("full"):
        run_experiment(exp.name, "full", seed, progress=False)
    rows = measured_runs([exp.name])
    assert [r.seed for r in rows] == [0, 1] and all(r.minutes > 0 for r in rows)
    assert rows[0].terms == budget.cost_terms(exp.profile("full"))
    text = report([exp.name])
    assert "_test_calibrate" in text and "measured" in text and "not enough runs" in text
