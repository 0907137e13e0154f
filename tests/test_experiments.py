"""Experiments: registry, the runner on the real offline CIFAR-10 copy, results validation, suite,
command line and the benchmark."""

import json
import os
from pathlib import Path

import pytest
from helpers import REPO, TESTS, TINY, torchrun

from vitcourse.__main__ import main
from vitcourse.lab import (EXPERIMENTS, Experiment, get_experiment, load_runs, pending,
                                   register, run_experiment, run_suite, validate_run_log)

@pytest.fixture
def sandbox(isolated_results, registered):
    registered(TINY)
    return isolated_results


def test_registry_errors_name_the_value():
    with pytest.raises(KeyError, match="nope.*python -m vitcourse list"):
        get_experiment("nope")
    with pytest.raises(ValueError, match="profile 'medium'"):
        get_experiment("first_run").profile("medium")
    with pytest.raises(ValueError, match="registered twice"):
        register(get_experiment("first_run"))


def test_profiles_merge_over_the_base():
    exp = get_experiment("first_run")
    smoke, full = exp.profile("smoke"), exp.profile("full")
    assert smoke["model"]["patch_size"] == full["model"]["patch_size"] == 4
    assert smoke["model"]["dim"] < full["model"]["dim"] and smoke["data"]["fraction"] < 1.0
    assert full["train"]["epochs"] > smoke["train"]["epochs"]


def test_run_writes_complete_validated_log_on_real_cifar10(sandbox):
    log = run_experiment(TINY.name, "smoke", progress=False)
    assert validate_run_log(log) == []
    assert log["dataset"]["provenance"] == "CIFAR-10 (JPEG q75 copy)"
    assert log["dataset"]["train_size"] == 500 and log["dataset"]["test_size"] == 10_000
    assert log["command"] == "python -m vitcourse run _test_tiny --profile smoke --seed 0"
    for key in ("config", "seed", "versions", "device", "git", "wall_time_s"):
        assert key in log
    assert (sandbox / "runs/smoke-results/_test_tiny/smoke/seed0/run.json").is_file()
    assert not list((sandbox / "runs/smoke-results").rglob("*.safetensors"))  # weights stay out of results
    assert 0.0 <= log["epochs"][0]["test_acc"] <= 1.0


def test_cli_run_of_first_run_smoke_on_offline_cifar10(sandbox, capsys):
    assert main(["run", "first_run", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "first_run [smoke] finished" in out
    runs = load_runs("first_run", "smoke")
    assert len(runs) == 1 and validate_run_log(runs[0].log) == []
    assert runs[0].log["dataset"]["train_size"] == 2500
    assert runs[0].final_test_acc > 0.15  # better than chance after 3 short epochs


def _write(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_malformed_and_partial_results_are_reported_not_plotted(sandbox):
    good = run_experiment(TINY.name, "smoke", progress=False)
    base = sandbox / "runs/smoke-results" / TINY.name / "smoke"
    _write(base / "seed1/run.json", "{ not json")
    _write(base / "seed2/run.json", json.dumps({**good, "status": "running"}))
    _write(base / "seed3/run.json", json.dumps({k: v for k, v in good.items() if k != "command"}))
    broken = dict(good, epochs=[dict(good["epochs"][0], test_acc=None)])
    _write(base / "seed4/run.json", json.dumps(broken))
    problems = []
    with pytest.warns(UserWarning):
        runs = load_runs(TINY.name, "smoke", problems=problems)
    assert [r.seed for r in runs] == [0]
    text = "\n".join(problems)
    for expected in ("seed1", "unreadable", "seed2", "'running'", "seed3", "'command'", "seed4", "'test_acc'"):
        assert expected in text


def test_suite_finishes_in_chunks_and_skips_finished_runs(sandbox):
    assert pending("full", [TINY.name]) == [(TINY.name, 0), (TINY.name, 1)]
    summary = run_suite("full", minutes=5, names=[TINY.name], progress=False)
    assert summary["pending"] == [] and len(summary["finished"]) == 2
    assert (sandbox / "results" / TINY.name / "full/seed1/run.json").is_file()
    again = run_suite("full", minutes=5, names=[TINY.name], progress=False)
    assert again["finished"] == [] and again["pending"] == []


def test_bench_runs_on_cpu_and_reports_ratios(sandbox, tmp_path):
    from vitcourse.lab.bench import format_report, run_bench

    report = run_bench("cpu", batch=8, steps=1, compile=False, out_dir=tmp_path / "bench",
                       model_kw=dict(dim=32, depth=1, heads=2))
    for key in ("vitcourse / timm (eager)", "fused / explicit attention", "pipeline / model",
                "2 processes / 1 (aggregate)"):
        assert report["ratios"][key] > 0
    assert report["images_per_s"]["aggregate_2_processes"] > 0   # two real processes, one at a time
    saved = json.loads(Path(report["path"]).read_text())
    assert saved["device"] and saved["images_per_s"]["timm_eager"] > 0
    assert "vitcourse / timm" in format_report(report)
    from vitcourse.lab.bench import experiment_model
    shape, batch = experiment_model("recipe_7_long")          # the headline's ViT, for its own bench
    assert shape == {"patch_size": 4, "dim": 256, "depth": 9, "heads": 8, "mlp_ratio": 2.0} and batch == 256
    with pytest.raises(ValueError, match="'inspect_resnet18' trains a resnet18: the bench measures ViTs"):
        experiment_model("inspect_resnet18")


def test_chapter_results_smoke_runs_live_and_prefers_committed_full_results(sandbox, monkeypatch):
    from vitcourse.lab.chapter import chapter_results

    monkeypatch.delenv("VITCOURSE_PROFILE", raising=False)
    res = chapter_results([TINY.name])
    runs, is_smoke = res.for_plot(TINY.name)
    assert is_smoke and len(runs) == 1 and res.pending_full() == [TINY.name]
    run_suite("full", minutes=5, names=[TINY.name], progress=False)     # as a GPU job would
    runs, is_smoke = chapter_results([TINY.name]).for_plot(TINY.name)
    assert not is_smoke and [r.seed for r in runs] == [0, 1]
    monkeypatch.setenv("VITCOURSE_PROFILE", "huge")
    with pytest.raises(ValueError, match="VITCOURSE_PROFILE='huge'"):
        chapter_results([TINY.name])
    monkeypatch.setenv("VITCOURSE_PROFILE", "full")           # a notebook asked to train GPU runs
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(ValueError, match="VITCOURSE_PROFILE=full .* no GPU: use VITCOURSE_PROFILE=cpu"):
        chapter_results([TINY.name])


def test_result_plots_draw_from_runs(sandbox):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from vitcourse.plots import caption, plot_accuracy_vs_time, plot_final_bars, plot_learning_curves

    run_suite("full", minutes=5, names=[TINY.name], progress=False)
    runs = load_runs(TINY.name, "full")
    fig, axes = plt.subplots(1, 3)
    plot_learning_curves({"tiny": runs}, ax=axes[0])
    plot_final_bars({"tiny": runs}, ax=axes[1])
    plot_accuracy_vs_time({"tiny": runs}, ax=axes[2])
    assert len(axes[0].lines) == 1 and len(axes[0].collections) == 1   # mean line + min-max band
    text = caption(runs)
    assert "CIFAR-10 (JPEG q75 copy)" in text and "--profile full --seed 1" in text
    assert caption(runs, smoke=True).startswith("SMOKE RUN")
    plt.close(fig)


def test_budget_estimates_follow_the_flop_formula():
    from vitcourse.lab.budget import estimate_gpu_minutes
    from vitcourse.models.flops import vit_forward_flops

    # ViT-B/16 at 224 px: about 17.6 G multiply-adds per image, the commonly quoted figure.
    assert vit_forward_flops(224, 16, 768, 12, num_classes=1000) / 2e9 == pytest.approx(17.6, rel=0.02)
    spec = get_experiment("first_run").profile("full")
    longer = dict(spec, train=dict(spec["train"], epochs=2 * spec["train"]["epochs"]))
    assert estimate_gpu_minutes(longer) > estimate_gpu_minutes(spec) > 0


def test_cli_run_under_torchrun_matches_one_process(sandbox):
    """Scaling out: the same command under torchrun (2 CPU processes, gloo) gives the same log."""
    single = run_experiment(TINY.name, "full", 0, progress=False)
    env = dict(os.environ, VITCOURSE_RESULTS=str(sandbox / "ddp"), PYTHONPATH=str(REPO))
    code = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); from helpers import TINY; "
            "from vitcourse.lab import register; register(TINY); "
            "from vitcourse.__main__ import main; sys.exit(main(sys.argv[1:]))")
    script = sandbox / "cli.py"
    script.write_text(code)
    out = torchrun([str(script), "run", TINY.name, "--profile", "full", "--seed", "0", "--allow-cpu-full"], env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("finished") == 1  # rank 0 alone reports
    ddp = json.loads((sandbox / "ddp" / TINY.name / "full/seed0/run.json").read_text())
    assert ddp["world_size"] == 2
    for a, b in zip(single["epochs"], ddp["epochs"]):
        assert a["test_samples"] == b["test_samples"] == 10_000
        assert abs(a["test_acc"] - b["test_acc"]) < 1e-3


def test_suite_reports_a_diverged_run_and_moves_on(sandbox, registered):
    blowup = Experiment(
        name="_test_blowup", chapter="tests", description="a learning rate that diverges",
        base=dict(TINY.base, train=dict(TINY.base["train"], lr=1e6, grad_clip=None, log_every=1)),
        seeds={"smoke": (0,), "full": (0,)})
    registered(blowup)
    summary = run_suite("full", minutes=5, names=[blowup.name, TINY.name], progress=False)
    assert summary["diverged"] == [(blowup.name, 0)]
    assert (TINY.name, 0) in summary["finished"] and summary["pending"] == []
    again = run_suite("full", minutes=5, names=[blowup.name], progress=False)
    assert again["finished"] == [] and again["diverged"] == [(blowup.name, 0)]


def test_transfer_and_imbalance_chapters_fit_their_gpu_budget():
    """Issue budget: chapters 4 and 5 of Part III together at most 20 H100-minutes, estimated at
    the planning constants (the assumed rates the chapters were sized with; a calibrated estimate
    is what the window plans with and the reproducing page shows)."""
    from vitcourse.lab.budget import ASSUMED, experiment_gpu_minutes, images_per_epoch

    chapters = ("Part III: Pre-training and transfer", "Part III: When classes are imbalanced")
    total = sum(experiment_gpu_minutes(e, rates=ASSUMED) for e in EXPERIMENTS.values() if e.chapter in chapters)
    assert 0 < total <= 20
    # a long-tailed set (ratio 100: 12,406 images) costs its own size per epoch, not the full set's
    spec = get_experiment("first_run").profile("full")
    assert images_per_epoch(dict(spec["data"], imbalance=100)) == 12_406
    assert images_per_epoch(dict(spec["data"], imbalance=100, fraction=0.5)) == 6_203
    assert images_per_epoch(spec["data"]) == 50_000


def test_budget_knows_which_tasks_skip_the_test_pass():
    """The estimate charges a per-epoch test pass unless the task trains without one."""
    from vitcourse.lab.budget import NO_TEST_PASS
    from vitcourse.lab.build import build_model
    from vitcourse.lab.build import input_size
    from vitcourse.lab.tasks import TaskRun, get_task

    checked = set()
    for exp in EXPERIMENTS.values():
        spec = exp.profile("smoke")
        make_task, options = get_task(spec)
        name = (spec.get("task") or {}).get("name", "classify")
        if name in checked:
            continue
        model = build_model(spec["model"], 10, 3, input_size(spec["data"], 32))
        setup = make_task(model, TaskRun(None, "smoke", 0, "cpu"), **options)
        assert setup.evaluate == (name not in NO_TEST_PASS), name
        checked.add(name)
    assert NO_TEST_PASS <= checked and len(checked) > len(NO_TEST_PASS)


def test_a_run_of_an_older_spec_is_never_taken_for_the_current_one(sandbox):
    """Smoke runs of a changed spec are redone; full ones are refused, reported by the suite and
    skipped by the plots, naming the keys that differ."""
    import warnings

    from vitcourse.lab import load_runs
    from vitcourse.lab.stale import StaleRunError
    from vitcourse.lab.suite import stale

    first = run_experiment(TINY.name, "smoke", 0, progress=False)
    run_experiment(TINY.name, "full", 0, progress=False)
    interrupted = run_experiment(TINY.name, "full", 1, progress=False, time_limit_s=1e-3)   # 1 of 2 epochs
    assert interrupted["status"] != "finished"
    changed = Experiment(**{**TINY.__dict__, "base": dict(TINY.base, data=dict(TINY.base["data"], augment="none"))})
    EXPERIMENTS[TINY.name] = changed
    again = run_experiment(TINY.name, "smoke", 0, progress=False)        # redone, not reused
    assert again["spec"]["data"]["augment"] == "none" and first["spec"]["data"]["augment"] == "basic"
    with pytest.raises(StaleRunError, match="data.augment"):
        run_experiment(TINY.name, "full", 0, progress=False)
    assert stale("full", [TINY.name]) == [(TINY.name, 0), (TINY.name, 1)]
    summary = run_suite("full", minutes=5, names=[TINY.name], progress=False)   # reports, does not crash
    assert summary["finished"] == [] and summary["stale"] == [(TINY.name, 0), (TINY.name, 1)]
    problems = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert load_runs(TINY.name, "full", problems=problems) == []
    assert "another spec" in problems[0] and "data.augment" in problems[0]
    # JSON's lists for tuples are not a change
    from vitcourse.lab.experiment import spec_differences
    assert spec_differences({"a": [0.8, 1.0]}, {"a": (0.8, 1.0)}) == []


def test_a_whole_job_run_waits_for_a_job_it_fits_in(sandbox, registered, monkeypatch):
    """The headline run is never started split across GPU jobs: with too little time left the
    suite defers it and runs the others; given the time, it starts."""
    import dataclasses

    from vitcourse.lab import budget

    headline = dataclasses.replace(TINY, name="_test_headline", whole_job=True)
    registered(headline)
    # pretend the headline needs 6 GPU-minutes per seed (it really trains in seconds here)
    monkeypatch.setattr(budget, "experiment_gpu_minutes", lambda exp: 12.0 if exp.whole_job else 0.1)
    summary = run_suite("full", minutes=2, names=[headline.name, TINY.name], progress=False)
    assert summary["deferred"] == [(headline.name, 0), (headline.name, 1)]
    assert (TINY.name, 0) in summary["finished"]
    summary = run_suite("full", minutes=7, names=[headline.name], progress=False)
    assert summary["deferred"] == [] and (headline.name, 0) in summary["finished"]
    assert get_experiment("recipe_7_long").whole_job and not get_experiment("recipe_6_stochastic_depth").whole_job
