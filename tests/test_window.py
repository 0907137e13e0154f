"""A GPU window, simulated on the CPU: `tools/gpu_window.sh --profile smoke` runs the same plan as
on a GPU, inside its cap, packing after every run; it survives a run that fails and, killed in
the middle of a run, still leaves every finished run in its output folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from helpers import REPO

from vitcourse.__main__ import main
from vitcourse.lab import EXPERIMENTS, budget, calibrate, window
from vitcourse.lab.catalog import core_set
from vitcourse.lab.experiment import Experiment
from vitcourse.lab.results import run_status
from vitcourse.train.environment import git_info

QUICK = ["recipe_0_source", "recipe_1_adamw_cosine", "recipe_2_crop_flip"]   # seconds each in smoke


def _env(tmp_path: Path) -> dict:
    return {**os.environ, "VITCOURSE_RESULTS": str(tmp_path / "results"), "VITCOURSE_RUNS": str(tmp_path / "runs"),
            "CI": "1", "VITCOURSE_COMMIT": "0123456789abcdef0123456789abcdef01234567"}


def _window(tmp_path: Path, minutes: float, *names: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(["bash", "tools/gpu_window.sh", "--profile", "smoke", "--minutes", str(minutes),
                             "--out", str(tmp_path / "out"), "--only", *names], cwd=REPO, env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def _archive(tmp_path: Path) -> dict[str, bytes]:
    with tarfile.open(tmp_path / "out" / "results.tgz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def _finished_logs(files: dict[str, bytes]) -> dict[str, dict]:
    logs = {name: json.loads(data) for name, data in files.items()
            if name.endswith("run.json") and not name.startswith("partial/")}
    return {name.split("/")[-4]: log for name, log in logs.items() if log["status"] == "finished"}


def _plant_broken_checkpoint(tmp_path: Path, name: str) -> None:
    """A checkpoint that cannot be read, where the run will look for one to resume from."""
    ckpt = tmp_path / "runs" / "checkpoints" / name / "smoke" / "seed0"
    ckpt.mkdir(parents=True)
    (ckpt / "epoch_0001.json").write_text("{ truncated")
    (ckpt / "epoch_0001.safetensors").write_bytes(b"\x00" * 64)


def test_a_simulated_window_stays_inside_its_cap_and_survives_a_failing_run(tmp_path):
    _plant_broken_checkpoint(tmp_path, QUICK[1])
    minutes = 2.5   # three runs of seconds each on an idle 2-core CPU, with room for a busy one
    start = time.monotonic()
    proc = _window(tmp_path, minutes, *QUICK)
    output, _ = proc.communicate(timeout=300)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, output
    assert elapsed <= 60 * minutes + 10, f"the window took {elapsed:.0f} s for a {minutes}-minute cap"
    files = _archive(tmp_path)
    finished = _finished_logs(files)
    # the failing run is logged and the runs after it still start and finish
    assert QUICK[1] not in finished and QUICK[2] in finished, output
    assert set(finished) <= {QUICK[0], QUICK[2]}
    log_text = (tmp_path / "out" / "window.log").read_text()
    assert f"{QUICK[1]} seed 0: failed" in log_text
    assert any(n.endswith(f"{QUICK[1]}-seed0.log") for n in files)   # its output comes back too
    assert "commit 0123456789abcdef0123456789abcdef01234567" in log_text   # recorded by the window
    for log in finished.values():   # in a checkout git itself answers; without .git, see the last test
        assert len(log["git"]["commit"]) == 40


def test_a_window_killed_mid_run_returns_the_runs_that_finished(tmp_path):
    second = "recipe_4_mixup_cutmix"   # extended: it runs after the core run QUICK[0]
    proc = _window(tmp_path, 5, QUICK[0], second, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:   # wait until the first run is packed and the second running
        if (tmp_path / "out" / "results.tgz").is_file() and QUICK[0] in _finished_logs(_archive(tmp_path)) \
                and any(f"start {second}" in log.read_text() for log in (tmp_path / "runs").glob("window/*/window.log")):
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the first run never appeared in the archive")
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGKILL)   # as the device does at a command's limit
    proc.wait()
    finished = _finished_logs(_archive(tmp_path))
    assert list(finished) == [QUICK[0]]
    assert not list((tmp_path / "out").glob("*.partial")) or (tmp_path / "out" / "results.tgz").is_file()


def test_packing_is_atomic(tmp_path, monkeypatch, isolated_results):
    w = window.Window("smoke", 1, tmp_path / "out")
    w.note("first")
    w.pack()
    before = (tmp_path / "out" / "results.tgz").read_bytes()

    def killed_while_packing(*args, **kwargs):
        raise KeyboardInterrupt("killed while packing")
    monkeypatch.setattr(tarfile.TarFile, "add", killed_while_packing)
    with pytest.raises(KeyboardInterrupt):
        w.pack()
    assert (tmp_path / "out" / "results.tgz").read_bytes() == before   # the previous archive is whole


def test_the_plan_puts_the_core_first_and_the_headline_after_it_until_calibrated(isolated_results):
    order = [p.name for p in window.plan("full")]
    core = sorted((e for e in EXPERIMENTS.values() if e.core is not None), key=lambda e: e.core)
    headline = core[0].name
    assert core[0].whole_job
    assert order[:len(core)] == [e.name for e in core[1:]] + [headline]
    calibrated = budget.Rates({"default": 80.0}, 0.1, 0.5, 0.25, {"none": 0.0}, "calibration.json (test)")
    assert [p.name for p in window.plan("full", rates=calibrated)][:len(core)] == [e.name for e in core]
    assert all(e.core is None for e in (EXPERIMENTS[n] for n in order[len(core):]))


def test_the_core_set_fits_two_windows_at_the_assumed_constants(capsys, isolated_results):
    core = [e for e in EXPERIMENTS.values() if e.core is not None]
    total = sum(budget.experiment_gpu_minutes(e, rates=budget.ASSUMED) for e in core)
    assert total <= core_set.CORE_BUDGET_MINUTES
    assert len(core) == len(core_set.CORE) and all(len(e.seeds_for("full")) >= 1 for e in core)
    chapters = {e.chapter for e in EXPERIMENTS.values() if e.seeds_for("full")}
    assert chapters == {e.chapter for e in core}    # every chapter's claim is in the core
    assert main(["list", "--core"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"total: {total:.1f} estimated minutes")
    kept = [e for e in EXPERIMENTS.values() if e.keep_weights]
    # bf16: 2 bytes per parameter, all of them well inside one 16 MiB returned file
    from vitcourse.models import vit_param_count
    params = sum(vit_param_count(image_size=32, num_classes=10, **{k: v for k, v in e.profile("full")["model"].items()
                                                                   if k != "arch"}) for e in kept)
    assert kept and 2 * params < 15 * 2**20


def _full_log(name: str, epochs: list[dict], setup: float, wall: float) -> dict:
    return {"status": "finished", "epochs": epochs, "setup_time_s": setup, "wall_time_s": wall,
            "device": {"name": "NVIDIA H100 80GB HBM3"}}


def test_calibration_is_measured_from_run_logs_and_read_by_the_budget(isolated_results, monkeypatch):
    from vitcourse.lab.results import Run
    exp = EXPERIMENTS["first_run"]
    terms = budget.cost_terms(exp.profile("full"))
    per_epoch_tflop = terms.tflop / terms.epochs
    epochs = [{"epoch_time_s": per_epoch_tflop / 40.0} for _ in range(terms.epochs)]
    log = _full_log("first_run", epochs, setup=3.0, wall=sum(e["epoch_time_s"] for e in epochs) + 0.2 * terms.epochs)
    monkeypatch.setattr(calibrate, "load_runs", lambda name, profile: [Run("first_run", "full", 0, Path("run.json"), log)] if name == "first_run" else [])
    path = calibrate.write_calibration({"light": 0.0, "policy": 0.0})
    data = json.loads(path.read_text())
    assert data["tflops"]["vit"] == pytest.approx(40.0, rel=1e-3) and data["epoch_s"] == pytest.approx(0.2)
    assert data["startup_min"] == pytest.approx(0.05) and data["runs"] == 1
    rates = budget.current_rates()
    assert rates.family_tflops("vit") == pytest.approx(40.0, rel=1e-3) and rates.source.startswith("calibration.json")
    assert budget.experiment_gpu_minutes(exp) > budget.experiment_gpu_minutes(exp, rates=budget.ASSUMED)
    path.write_text('{"tflops": {"vit": -1}}')
    with pytest.raises(ValueError, match="calibration.json.*delete it"):
        budget.current_rates()


def test_augmentation_cost_is_measured_per_kind():
    measured = calibrate.measure_augmentation("cpu")
    assert set(measured) == {"light", "policy"} and min(measured.values()) > 0
    assert budget.augment_kind("deit") == "policy" and budget.augment_kind({"crop": 0, "flip": False}) == "none"
    assert budget.augment_kind("basic") == "light"


def test_outside_a_checkout_the_commit_comes_from_the_launcher(tmp_path, monkeypatch):
    monkeypatch.setenv("VITCOURSE_COMMIT", "feedface" * 5)
    assert git_info(tmp_path) == {"commit": "feedface" * 5, "dirty": None, "source": "VITCOURSE_COMMIT"}
    monkeypatch.delenv("VITCOURSE_COMMIT")
    assert git_info(tmp_path)["commit"] is None


def test_compiled_runs_meet_no_short_test_batch():
    from vitcourse.lab.runner import whole_batches
    assert whole_batches(10_000, 256) == 500 and whole_batches(10_000, 512) == 1000
    assert 10_000 % whole_batches(10_000, 384) == 0
    assert whole_batches(9_973, 128) == 128   # a prime: nothing divides it, the batch stays


def test_an_invalid_run_log_is_packed_aside_not_trusted(tmp_path, isolated_results):
    """A log that fails validation neither stops the packing nor passes for a result."""
    w = window.Window("smoke", 1, tmp_path / "out")
    bad = isolated_results / "runs" / "smoke-results" / QUICK[0] / "smoke" / "seed0" / "run.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"status": "finished"}')
    w.pack()
    names = list(_archive(tmp_path))
    assert any(n.startswith("partial/") and n.endswith(f"{QUICK[0]}/smoke/seed0/run.json") for n in names)
    assert run_status(QUICK[0], "smoke", 0) == "invalid"


def test_compiled_and_eager_rates_are_kept_apart_and_the_sharing_is_recorded(isolated_results, monkeypatch):
    """A window's runs share the GPU (its `workers`), and torch.compile changes the rate: the
    calibration keeps "vit" and "vit+compile" apart and records the sharing, so the window does not
    charge a run for the sharing twice."""
    from vitcourse.lab.results import Run

    def log_at(name: str, tflops: float) -> dict:
        terms = budget.cost_terms(EXPERIMENTS[name].profile("full"))
        epochs = [{"epoch_time_s": terms.tflop / terms.epochs / tflops} for _ in range(terms.epochs)]
        return _full_log(name, epochs, setup=1.0, wall=sum(e["epoch_time_s"] for e in epochs))
    logs = {"first_run": log_at("first_run", 20.0), "recipe_7_long": log_at("recipe_7_long", 50.0)}
    assert budget.cost_terms(EXPERIMENTS["recipe_7_long"].profile("full")).compile
    monkeypatch.setattr(calibrate, "load_runs", lambda name, profile: (
        [Run(name, "full", 0, Path("run.json"), logs[name])] if name in logs else []))
    data = json.loads(calibrate.write_calibration({"light": 0.0, "policy": 0.0}, workers=2).read_text())
    assert data["tflops"]["vit"] == pytest.approx(20.0, rel=1e-3)
    assert data["tflops"]["vit+compile"] == pytest.approx(50.0, rel=0.05)   # first epoch counted as compile
    rates = budget.current_rates()
    assert rates.workers == 2 and rates.family_tflops("vit", compiled=True) == data["tflops"]["vit+compile"]
    assert rates.family_tflops("resnet18", compiled=True) == rates.family_tflops("resnet18")   # none measured
    assert window.Window._sharing(1) == window.Window._sharing(2) == 1.0 and window.Window._sharing(3) == 1.5
    calibrate.write_calibration()            # a later write keeps the recorded sharing
    assert budget.current_rates().workers == 2


def test_a_run_stopped_as_the_window_closes_is_partial_even_if_its_log_says_finished(
        tmp_path, isolated_results, monkeypatch):
    """The window's first H100 run stopped light_kd_soft after its log said "finished" but before
    its task had saved light.npz: a killed run is never packed as a result, and no run.lock is."""
    w = window.Window("smoke", 1, tmp_path / "out")
    run_dir = isolated_results / "runs" / "smoke-results" / QUICK[0] / "smoke" / "seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "run.lock").write_text("pid 1")
    (run_dir / "run.json").write_text("{}")
    monkeypatch.setattr(window, "run_status", lambda *args: "finished")
    w.pack()
    names = list(_archive(tmp_path))
    assert not any(name.endswith("run.lock") for name in names)
    assert any(n.endswith(f"{QUICK[0]}/smoke/seed0/run.json") and not n.startswith("partial/") for n in names)
    proc = subprocess.Popen(["sleep", "30"])
    output = (tmp_path / "out.log").open("w")
    w._stop({proc: (window.Planned(QUICK[0], 0, 0.1, False), time.monotonic(), output)})
    assert w.outcomes[f"{QUICK[0]} seed 0"] == "stopped at the end of the window" and proc.poll() is not None
    w.pack()
    assert any(n.startswith("partial/") and n.endswith(f"{QUICK[0]}/smoke/seed0/run.json") for n in _archive(tmp_path))


def test_nothing_starts_beside_a_whole_window_run(tmp_path, isolated_results, monkeypatch):
    """The headline has the GPU to itself while it runs, however many workers the window has."""
    w = window.Window("smoke", 5, tmp_path / "out", workers=2)
    started = []
    monkeypatch.setattr(w, "_launch", lambda item, output: started.append(item.name) or object())
    queue = [window.Planned("recipe_7_long", 0, 0.1, True), window.Planned(QUICK[0], 0, 0.1, False)]
    running: dict = {}
    w._start_what_fits(queue, running)
    assert started == ["recipe_7_long"] and len(running) == 1
    w._start_what_fits(queue, running)          # the next poll, the headline still running
    assert started == ["recipe_7_long"] and [p.name for p in queue] == [QUICK[0]]
    for _, _, output in running.values():
        output.close()


def test_a_run_with_a_time_budget_needs_its_budget_not_a_margin(tmp_path, isolated_results, monkeypatch):
    """The headline trains as many epochs as fit its budget, so the window keeps free its budget and
    an allowance for the last epoch, not its estimate x MARGIN (which would not fit one command)."""
    [headline] = [p for p in window.plan("full", ["recipe_7_long"])]
    assert headline.budgeted and headline.whole
    from vitcourse.lab.catalog.part3_recipe import FINAL_PLAN_MINUTES
    assert headline.minutes == pytest.approx(FINAL_PLAN_MINUTES + budget.current_rates().startup_min)
    expected = 60 * headline.minutes + window.BUDGET_OVERRUN_S + window.PROCESS_S
    assert headline.need_s(1.0) == headline.need_s(2.0) == pytest.approx(expected)
    assert 60 * headline.minutes * window.MARGIN + window.PROCESS_S > 9.5 * 60 - 45 - window.PACK_RESERVE_S
    plain = window.Planned("first_run", 0, 1.0, False)
    assert plain.need_s(2.0) == pytest.approx(60 * window.MARGIN * 2 + window.PROCESS_S)
    # A window with too little time left does not start it.
    w = window.Window("full", 7.5, tmp_path / "out", workers=2)
    monkeypatch.setattr(w, "_launch", lambda item, output: pytest.fail("must not start"))
    queue = [headline]
    w._start_what_fits(queue, {})
    assert queue == [] and w.outcomes["recipe_7_long seed 0"].startswith("not started")
