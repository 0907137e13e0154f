"""Bad input gets a clear answer, results are checked on the way in, nothing is lost (issue 16).

Each class of case is met as a user meets it: through `python -m vitcourse ...` (its `main`, with a
temporary results root and the one-epoch micro experiment), then the files are checked.
"""

import json
import os
import platform
import subprocess
import sys

import pytest
import torch
from helpers import REPO, TINY

from vitcourse.__main__ import main
from vitcourse.lab import load_runs, run_experiment
from vitcourse.lab import runner
from vitcourse.lab.cli import UsageError
from vitcourse.lab.paths import checkpoint_dir, run_dir

COMMITTED_LOG = REPO / "data/results/first_run/cpu/seed0/run.json"


@pytest.fixture
def sandbox(isolated_results, registered):
    registered(TINY)
    return isolated_results


def cli(capsys, *argv):
    """(exit status, stdout, stderr) of `python -m vitcourse *argv`."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---- usage errors: one line, the value and the fix, exit 2, nothing written --------------------

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")

USAGE = [
    pytest.param(["run", "nope"], "'nope'", id="unknown-experiment"),
    pytest.param(["run", "first_rn"], "did you mean first_run", id="misspelt-experiment"),
    pytest.param(["suite", "--profile", "smoke", "--only", TINY.name, "nope"], "'nope'", id="unknown-in-only"),
    pytest.param(["run", TINY.name, "--device", "gpu"], "'gpu' is not a device", id="device-gpu"),
    pytest.param(["run", TINY.name, "--device", "cuda"], "no CUDA GPU", id="device-cuda", marks=NO_GPU),
    pytest.param(["run", TINY.name, "--seed", "-1"], "'-1' is not a seed", id="negative-seed"),
    pytest.param(["run", TINY.name, "--threads", "0"], "'0'", id="zero-threads"),
    *[pytest.param(["suite", "--profile", "smoke", "--minutes", m], f"{m!r} is not a time budget", id=f"minutes{m}")
      for m in ("-5", "0", "nan", "inf", "soon")],
    pytest.param(["run", TINY.name, "--profile", "full"], "--profile cpu", id="run-full-on-cpu", marks=NO_GPU),
    pytest.param(["suite"], "--allow-cpu-full", id="suite-defaults-to-full-on-cpu", marks=NO_GPU),
    pytest.param(["run", TINY.name, "--profile", "medium"], "'medium'", id="unknown-profile"),
]


@pytest.mark.parametrize("argv, names", USAGE)
def test_a_bad_argument_is_one_line_naming_it_and_exits_2(sandbox, capsys, argv, names):
    code, out, err = cli(capsys, *argv)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert names in err
    assert not any(p.is_file() for p in sandbox.rglob("*")), "a refused command wrote a file"


def test_the_debug_flag_shows_the_traceback(sandbox):
    with pytest.raises(UsageError, match="'nope'"):
        main(["--debug", "run", "nope"])
    with pytest.raises(UsageError, match="'nope'"):
        main(["run", "nope", "--debug"])


def test_an_error_in_a_subprocess_is_one_line_without_traceback(sandbox):
    out = subprocess.run([sys.executable, "-m", "vitcourse", "run", "nope"], cwd=REPO, capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120)
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "Traceback" not in out.stderr


# ---- runs: skipped when finished, locked while running, Ctrl-C resumable -----------------------

def test_a_finished_run_is_skipped_and_says_so(sandbox, capsys):
    code, out, _ = cli(capsys, "run", TINY.name)
    assert code == 0 and f"{TINY.name} [smoke] finished" in out
    code, out, _ = cli(capsys, "run", TINY.name)
    log = run_dir(TINY.name, "smoke", 0) / "run.json"
    assert code == 0 and f"skipped (already finished: {log})" in out
    assert not (log.parent / "run.lock").exists()


def test_a_second_run_refuses_while_the_first_holds_the_lock(sandbox, capsys):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = run_dir(TINY.name, "smoke", 0) / "run.lock"
        lock.parent.mkdir(parents=True)
        lock.write_text(json.dumps({"pid": holder.pid, "host": platform.node(), "started": "now",
                                    "command": "python -m vitcourse run _test_tiny"}))
        code, _, err = cli(capsys, "run", TINY.name)
        assert code == 1 and err.count("\n") == 1
        assert f"pid {holder.pid} on {platform.node()}" in err and f"delete {lock}" in err
        assert lock.exists() and not (lock.parent / "run.json").exists()
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone: its lock is stale, taken over with a notice, and released at the end.
    code, out, _ = cli(capsys, "run", TINY.name)
    assert code == 0 and "taking over the stale lock" in out and "finished" in out
    assert not lock.exists()


def test_ctrl_c_during_training_says_how_to_resume_and_releases_the_lock(sandbox, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        assert (run_dir(TINY.name, "smoke", 0) / "run.lock").exists()   # held while training
        raise KeyboardInterrupt
    monkeypatch.setattr(runner, "fit", interrupted)
    code, _, err = cli(capsys, "run", TINY.name)
    assert code == 130
    assert "python -m vitcourse run _test_tiny' again to resume after the last completed epoch" in err.replace("`", "'")
    assert not (run_dir(TINY.name, "smoke", 0) / "run.lock").exists()


# ---- checkpoints: clean-up by name, checksum, clear refusals ------------------------------------

def test_checkpoint_clean_up_leaves_files_it_did_not_write(sandbox, capsys):
    folder = checkpoint_dir(TINY.name, "smoke", 0)
    (folder / "notes").mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    mine = {"e.bak": "x", "my_notes.json": "{}", "epoch_0001.safetensors.bak": "x", "notes/a.txt": "x"}
    for name, text in mine.items():
        (folder / name).write_text(text)
    (folder / f".epoch_0007.tmp{int(dead.stdout)}.safetensors").write_text("left by a killed run")
    code, _, _ = cli(capsys, "run", TINY.name)
    assert code == 0
    left = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert left == sorted([*mine, "epoch_0001.json", "epoch_0001.safetensors"])


def _interrupted_full_run():
    """A resumable two-epoch run stopped after epoch 1; returns its checkpoint's (json, tensors)."""
    log = run_experiment(TINY.name, "full", 0, progress=False, time_limit_s=1e-3)
    assert log["status"] == "running" and len(log["epochs"]) == 1
    record = checkpoint_dir(TINY.name, "full", 0) / "epoch_0001.json"
    return record, record.with_suffix(".safetensors")


RESUME = ["run", TINY.name, "--profile", "full", "--seed", "0", "--allow-cpu-full"]


def _flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _pickle_in_place(path):
    import pickle
    path.write_bytes(pickle.dumps({"weights": list(range(10))}))
    record = path.with_suffix(".json")
    meta = json.loads(record.read_text())
    meta.pop("tensors_sha256")               # as an older checkpoint, which has no checksum
    record.write_text(json.dumps(dict(meta, tensors_bytes=path.stat().st_size)))


def _truncate_record(path):
    record = path.with_suffix(".json")
    record.write_text(record.read_text()[:100])


@pytest.mark.parametrize("damage, says", [
    (_flip_a_byte, "sha256 differs"),
    (_pickle_in_place, "not a safetensors file"),
    (_truncate_record, "not readable JSON"),
])
def test_a_damaged_checkpoint_is_refused_naming_it_and_the_fix(sandbox, capsys, damage, says):
    record, tensors = _interrupted_full_run()
    damage(tensors)
    code, _, err = cli(capsys, *RESUME)
    assert code == 1 and err.startswith("error: checkpoint ") and says in err
    assert str(record.parent) in err and "Delete epoch_0001.json and epoch_0001.safetensors" in err
    assert json.loads((run_dir(TINY.name, "full", 0, sandbox / "results") / "run.json").read_text())["status"] == "running"


def test_the_suite_reports_a_damaged_checkpoint_and_goes_on(sandbox, capsys):
    record, tensors = _interrupted_full_run()
    _flip_a_byte(tensors)
    code, out, _ = cli(capsys, "suite", "--allow-cpu-full", "--minutes", "5", "--only", TINY.name)
    assert code == 0 and f"{TINY.name} seed 0 not run: checkpoint {tensors}" in out
    assert f"finished this call: [('{TINY.name}', 1)]" in out and f"still pending: [('{TINY.name}', 0)]" in out


def test_an_older_checkpoint_without_a_checksum_still_resumes(sandbox, capsys):
    record, _ = _interrupted_full_run()
    meta = json.loads(record.read_text())
    assert len(meta.pop("tensors_sha256")) == 64
    record.write_text(json.dumps(meta))
    code, out, _ = cli(capsys, *RESUME)
    assert code == 0 and "finished" in out


# ---- run logs: validated by every reader --------------------------------------------------------

def _edit(field, value):
    def edit(log):
        if field.startswith("epochs."):
            log["epochs"][-1][field[7:]] = value
        else:
            log[field] = value
        return json.dumps(log)
    return edit


BAD_LOGS = [
    pytest.param(lambda log: json.dumps({"status": "finished"}), "missing field 'config'", id="status-only"),
    pytest.param(_edit("wall_time_s", -5000), "'wall_time_s' is -5000", id="negative-wall-time"),
    pytest.param(_edit("epochs.epoch_time_s", -60.0), "'epoch_time_s' is -60.0", id="negative-epoch-time"),
    pytest.param(_edit("epochs.test_acc", 1.7), "'test_acc' is 1.7", id="accuracy-above-1"),
    pytest.param(_edit("epochs.test_acc", True), "'test_acc' is True", id="accuracy-true"),
    pytest.param(_edit("seed", "zero"), "'seed' is 'zero'", id="seed-string"),
    pytest.param(_edit("config", {"epochs": 0}), "'config.epochs' is 0", id="zero-epochs"),
    pytest.param(lambda log: "[1, 2, 3]", "not a JSON object", id="not-an-object"),
    pytest.param(lambda log: json.dumps(log)[:500], "unreadable JSON", id="truncated"),
]


@pytest.mark.parametrize("damage, says", BAD_LOGS)
def test_an_invalid_run_log_is_named_and_not_a_finished_run(sandbox, capsys, damage, says):
    path = sandbox / "results/first_run/cpu/seed0/run.json"
    path.parent.mkdir(parents=True)
    path.write_text(damage(json.loads(COMMITTED_LOG.read_text())))
    code, out, _ = cli(capsys, "list", "--profile", "cpu")
    assert code == 0 and "first_run                    cpu:0/1" in out
    assert f"invalid (not counted as finished" in out and str(path) in out and says in out
    problems = []
    with pytest.warns(UserWarning, match="first_run"):
        assert load_runs("first_run", "cpu", problems=problems) == []
    assert says in problems[0]
    full = path.parents[2] / "full/seed0/run.json"     # what calibrate reads
    full.parent.mkdir(parents=True)
    full.write_text(path.read_text())
    with pytest.warns(UserWarning):
        assert cli(capsys, "calibrate")[0] == 0


def test_the_committed_logs_are_all_valid(sandbox, capsys):
    from vitcourse.train.runlog import read_run_log
    logs = sorted((REPO / "data/results").glob("*/*/seed*/run.json"))
    assert len(logs) >= 32
    for log in logs:
        assert read_run_log(log.parent)["status"] == "finished"


def test_the_suite_sets_an_invalid_log_aside_says_so_and_runs_it_again(sandbox, capsys):
    path = run_dir(TINY.name, "smoke", 0) / "run.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"status": "finished"}))
    code, out, _ = cli(capsys, "suite", "--profile", "smoke", "--minutes", "5", "--only", TINY.name)
    assert code == 0
    assert f"warning: {path} is not a valid run log (missing field 'config'" in out
    assert f"finished this call: [('{TINY.name}', 0)]" in out
    kept = [p.name for p in path.parent.glob("run.json.invalid-*")]
    assert len(kept) == 1 and json.loads((path.parent / kept[0]).read_text()) == {"status": "finished"}
