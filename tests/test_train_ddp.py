"""vitcourse.train under torchrun: 2 CPU processes (gloo) must train like 1 process, resume included.

The self-test splits every global batch of 16 between the ranks and has no BatchNorm or
dropout, so DDP's averaged gradients equal the single-process gradients up to summation order;
metrics and final weights must agree to float32 precision, and the test set (50 samples, a
partial last batch) must be counted exactly once.
"""

import os

import pytest
import torch
from helpers import TESTS
from helpers import torchrun as launch
from safetensors.torch import load_file

from vitcourse.train import fit, latest_checkpoint, read_run_log
from ddp_selftest import TEST_SIZE, TRAIN_SIZE, selftest_parts



def model_tensors(run_dir):
    tensors = load_file(str(latest_checkpoint(run_dir / "checkpoint").with_suffix(".safetensors")))
    return {k: v for k, v in tensors.items() if k.startswith("model/")}


def torchrun(run_dir, *args):
    # tests/ on the children's path: the self-test and its loader are test scaffolding, not the package
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    done = launch(["-m", "ddp_selftest", str(run_dir), *args], env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_two_processes_train_like_one_and_resume(tmp_path):
    ddp_dir, single_dir = tmp_path / "ddp", tmp_path / "single"
    out = torchrun(ddp_dir, "--stop-after-epoch", "1")  # a first job that stops early ...
    assert "rank 0/2: status running" in out and "rank 1/2: status running" in out
    out = torchrun(ddp_dir)  # ... and a second that resumes on both ranks
    assert "rank 0/2: status finished" in out and "rank 1/2: status finished" in out

    model, train, test, config = selftest_parts()
    single = fit(model, train, test, config, single_dir, progress=False)
    ddp = read_run_log(ddp_dir)
    assert ddp["status"] == "finished" and ddp["world_size"] == 2 and single["world_size"] == 1
    assert ddp["command"].startswith("torchrun --nproc_per_node=2 -m ddp_selftest")
    assert [g["start_epoch"] for g in ddp["segments"]] == [0, 1]
    assert ddp["config"] == single["config"]
    # Rank 0 alone wrote: one checkpoint pair, no temporary files left by a second writer.
    assert sorted(p.name for p in (ddp_dir / "checkpoint").iterdir()) == [
        "epoch_0003.json", "epoch_0003.safetensors"]
    assert sorted(p.name for p in ddp_dir.iterdir()) == ["checkpoint", "run.json"]

    for d, s in zip(ddp["epochs"], single["epochs"]):
        assert d["train_samples"] == s["train_samples"] == TRAIN_SIZE
        assert d["test_samples"] == s["test_samples"] == TEST_SIZE  # each test image once
        for key in ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "grad_norm"):
            assert d[key] == pytest.approx(s[key], rel=1e-5, abs=1e-6), key
    ddp_weights, single_weights = model_tensors(ddp_dir), model_tensors(single_dir)
    assert ddp_weights.keys() == single_weights.keys()
    for key in ddp_weights:
        torch.testing.assert_close(ddp_weights[key], single_weights[key], rtol=1e-5, atol=1e-6)


def test_ranks_train_the_epochs_rank_0s_time_budget_decided(tmp_path):
    """A budget the 3-epoch probe already spends: every rank stops after the probe, in step (a rank
    that went on alone would hang its next all-reduce)."""
    out = torchrun(tmp_path / "ddp", "--epochs", "20", "--time-budget-min", "0.0001")
    assert "rank 0/2: status finished" in out and "rank 1/2: status finished" in out
    assert out.count(", 3 epochs") == 2
    log = read_run_log(tmp_path / "ddp")
    assert log["time_budget"]["epochs"] == 3 and len(log["epochs"]) == 3
