"""Fitting the GPU-time estimate's constants to measured runs."""

import pytest

from vitcourse.lab import budget
import numpy as np

from vitcourse.lab.calibrate import Steady, _nonnegative_lstsq, fit_rates, measured_runs, report


def _steady(key, steps, tflop, augment="none", images=0.0, *, step_ms, tflops, augment_us):
    seconds = steps * step_ms / 1000 + tflop / tflops + images * augment_us.get(augment, 0.0) * 1e-6
    return Steady(key, steps, tflop, augment, images, seconds)


def test_the_fit_tells_the_cost_per_step_from_the_flop_rate_and_the_augmentation():
    """Runs made from known rates (ViT: 15 ms a step at 70 TFLOP/s; ResNet: 3 ms at 90; RandAugment
    50 us an image): the fit finds them again, each family its own, the augmentation shared."""
    truth = dict(vit=(15.0, 70.0), resnet18=(3.0, 90.0))
    cost = {"light": 1.0, "policy": 50.0}
    runs = []
    for key, (ms, rate) in truth.items():
        for steps, tflop, augment, images in [(1950, 48, "none", 0), (1940, 40, "light", 5e5),
                                              (1950, 50, "policy", 5e5), (3900, 20, "light", 5e5),
                                              (970, 90, "policy", 2.5e5)]:
            runs.append(_steady(key, steps, tflop, augment, images, step_ms=ms, tflops=rate, augment_us=cost))
    tflops, step_ms, augment_us = fit_rates(runs, {"light": 0.2, "policy": 1.0})
    for key, (ms, rate) in truth.items():
        assert step_ms[key] == pytest.approx(ms, rel=1e-3) and tflops[key] == pytest.approx(rate, rel=1e-3)
    assert augment_us["policy"] == pytest.approx(50.0, rel=1e-3) and augment_us["light"] == pytest.approx(1.0, rel=1e-2)


def test_a_family_with_few_runs_gets_flops_over_seconds_and_an_untold_rate_stays_assumed():
    # One compiled run with compiled RandAugment (49 s: 24 of FLOPs at 200 TFLOP/s, 25 of augmentation).
    compiled = _steady("vit+compile", 9750, 4800, "policy+compile", 2.5e6, step_ms=0.0, tflops=200.0,
                       augment_us={"policy+compile": 10.0})
    # Three eager runs whose time does not depend on their FLOPs at all: launch-bound.
    runs = [compiled] + [Steady("vit", steps, tflop, "none", 0.0, steps * 0.02)
                         for steps, tflop in [(1000, 10), (2000, 5), (500, 40)]]
    tflops, step_ms, augment_us = fit_rates(runs, {"policy": 52.0})
    # The compiled run's augmentation was never measured alone: it stays in its rate, counted once.
    assert "vit+compile" not in step_ms and tflops["vit+compile"] == pytest.approx(4800 / 49.0, rel=1e-4)
    assert augment_us["policy+compile"] == 0.0 and augment_us["policy"] == 52.0   # eager: the benchmark's
    # Their time never grew with their FLOPs: the rate is not measured, the assumption stays (not
    # "free FLOPs", which would plan a large ViT of the family as costing nothing).
    assert step_ms["vit"] == pytest.approx(20.0, rel=1e-6) and tflops["vit"] == budget.ASSUMED_TFLOPS
    rates = budget.Rates(tflops, 0.0, 0.0, 0.0, augment_us, step_ms=step_ms)
    terms = budget.CostTerms(4800, 50, True, "vit", 2.5e6, "policy", steps=9750)
    assert terms.estimate(rates) * 60 == pytest.approx(49.0, rel=1e-4)        # the run, estimated back


def test_the_nonnegative_fit_is_the_constrained_optimum():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, (12, 3))
    b = a @ np.array([2.0, -1.0, 0.5]) + rng.normal(0, 0.01, 12)
    x = _nonnegative_lstsq(a, b)
    assert (x >= 0).all() and x[1] == 0.0
    best = np.sum((a @ x - b) ** 2)
    for _ in range(2000):                     # no non-negative point does better
        y = np.clip(x + rng.normal(0, 0.05, 3), 0, None)
        assert np.sum((a @ y - b) ** 2) >= best - 1e-12


def test_estimates_use_the_cost_per_step_of_the_runs_family():
    rates = budget.Rates({"vit": 70.0}, 0.0, 0.5, 0.0, {"none": 0.0}, step_ms={"vit": 15.0})
    terms = budget.CostTerms(tflop=42.0, epochs=10, compile=False, steps=1950)
    assert terms.estimate(rates) == pytest.approx((1950 * 0.015 + 42.0 / 70.0) / 60)
    compiled = budget.CostTerms(tflop=42.0, epochs=10, compile=True, steps=1950)
    assert compiled.estimate(rates) == pytest.approx(terms.estimate(rates) + 0.5)   # until measured compiled
    measured = budget.Rates({"vit": 70.0, "vit+compile": 140.0}, 0.0, 0.5, 0.0, {"none": 0.0},
                            step_ms={"vit": 15.0, "vit+compile": 2.0})
    assert compiled.estimate(measured) == pytest.approx((1950 * 0.002 + 42.0 / 140.0) / 60 + 0.5)
    spec = dict(model=dict(arch="vit", patch_size=4, dim=64, depth=2, heads=2),
                data=dict(dataset="cifar10", fraction=0.1), train=dict(epochs=3, batch_size=256, eval_every=1))
    assert budget.cost_terms(spec).steps == pytest.approx(19 * 3 + 3 * 40 / 3)   # 5,000 // 256; 10,000 / 256


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
    assert "_test_calibrate" in text and "measured" in text and "ms per step none" in text
