"""vitcourse.train: config, optimizer groups, schedule, run log, checkpoints, resume, divergence.

Everything runs on CPU with a two-block ViT on 8x8 images (dropout and stochastic depth on, so
the RNG handling is exercised) and an in-memory loader; the whole file takes seconds. The
kill-and-resume test runs the first half of a run in a subprocess and SIGKILLs it mid-epoch.
"""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO
import torch
from safetensors.torch import load_file
from torch import nn

from memory_loader import InMemoryLoader

from vitcourse.models import ViT
from vitcourse.train import (ConfigMismatch, ResumeMismatch, TrainConfig,
                             TrainingDiverged, fit, latest_checkpoint, load_checkpoint, lr_at,
                             param_groups, read_run_log, seed_everything)
from vitcourse.seeding import stream_seed
from vitcourse.train.optim import Schedule

THIS_FILE = Path(__file__).resolve()
TIMING_KEYS = {"train_time_s", "images_per_s", "eval_time_s", "epoch_time_s"}
NUM_CLASSES = 3


# ---- tiny, deterministic parts (also imported by the subprocess in the kill test) -------------

def make_data(n_train=64, n_test=30, seed=0):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, NUM_CLASSES, (n_train + n_test,), generator=gen)
    images = torch.randn(n_train + n_test, 3, 8, 8, generator=gen)
    images[torch.arange(len(labels)), labels] += 0.5  # learnable, but not instantly
    return images[:n_train], labels[:n_train], images[n_train:], labels[n_train:]


class CrashingLoader(InMemoryLoader):
    """Dies (or stalls, for the SIGKILL test) at one step of one epoch, like a killed job."""

    def __init__(self, *args, crash_at=None, marker=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.crash_at, self.marker = crash_at, marker

    def __iter__(self):
        for i, batch in enumerate(super().__iter__()):
            if (self.epoch, i) == self.crash_at:
                if self.marker is None:
                    raise KeyboardInterrupt("simulated kill")
                Path(self.marker).write_text("stalled")
                time.sleep(600)  # the parent test SIGKILLs us here
            yield batch


class NaNLoader(InMemoryLoader):
    """Puts NaNs into one batch, as a too-high learning rate eventually would."""

    def __init__(self, *args, nan_at, **kwargs):
        super().__init__(*args, **kwargs)
        self.nan_at = nan_at

    def __iter__(self):
        for i, (images, targets) in enumerate(super().__iter__()):
            if (self.epoch, i) == self.nan_at:
                images = torch.full_like(images, float("nan"))
            yield images, targets


def make_model(seed=0, dropout=0.1):
    seed_everything(seed)
    return ViT(image_size=8, patch_size=4, num_classes=NUM_CLASSES, dim=16, depth=2, heads=2,
               dropout=dropout, drop_path=0.1)


def make_config(**changes):
    base = dict(epochs=4, batch_size=16, lr=1e-2, warmup_epochs=1, label_smoothing=0.1,
                grad_clip=1.0, seed=3, log_every=2)
    return TrainConfig(**(base | changes))


def make_loaders(loader_cls=InMemoryLoader, **loader_kwargs):
    x_train, y_train, x_test, y_test = make_data()
    train = loader_cls(x_train, y_train, 16, seed=1, **loader_kwargs)
    test = InMemoryLoader(x_test, y_test, 16, shuffle=False, drop_last=False)
    return train, test


def run(run_dir, loader_cls=InMemoryLoader, model_seed=0, config=None, **kwargs):
    """One fit call with the standard parts; returns (log, model)."""
    loader_kwargs = {k: kwargs.pop(k) for k in ("crash_at", "marker", "nan_at") if k in kwargs}
    train, test = make_loaders(loader_cls, **loader_kwargs)
    model = make_model(model_seed)
    log = fit(model, train, test, config or make_config(), run_dir, progress=False, **kwargs)
    return log, model


def strip_timing(epochs):
    return [{k: v for k, v in m.items() if k not in TIMING_KEYS} for m in epochs]


def assert_same_weights(a: nn.Module, b: nn.Module):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 4-epoch run that the resume tests must reproduce bit for bit."""
    return run(tmp_path_factory.mktemp("reference"))


# ---- config, optimizer groups, schedule -----------------------------------------------------

def test_config_round_trips_through_json_and_rejects_bad_values():
    config = make_config(optimizer="sgd", betas=(0.8, 0.9), grad_clip=None)
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.betas == (0.8, 0.9)
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="adam")
    with pytest.raises(ValueError, match="unknown TrainConfig keys: \\['learning_rate'\\]"):
        TrainConfig.from_dict({"learning_rate": 1.0})


def test_weight_decay_skips_biases_norms_class_token_and_positions():
    model = make_model()
    names = {id(p): n for n, p in model.named_parameters()}
    decay, skip = ([names[id(p)] for p in g["params"]] for g in param_groups(model, 0.05))
    assert {"cls_token", "pos_embed.weight", "norm.weight", "head.bias"} <= set(skip)
    assert "head.weight" in decay and "blocks.0.attn.qkv.weight" in decay
    assert all(p.ndim >= 2 for n, p in model.named_parameters() if n in decay)
    assert len(decay) + len(skip) == len(names)


def test_lr_rises_linearly_then_follows_a_cosine_to_min_lr():
    lrs = [lr_at(s, total_steps=100, warmup_steps=10, base_lr=1.0, min_lr=0.01) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:10]))
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[55] == pytest.approx(0.01 + 0.99 * 0.5)  # half-way through the cosine
    assert lrs[-1] == pytest.approx(0.01, abs=1e-3)
    assert Schedule(make_config(epochs=4, warmup_epochs=0.5), 10).warmup_steps == 5



def test_every_stream_keeps_the_seeds_committed_results_were_drawn_with():
    # Data subsets, loader orders and training runs are committed; these are the numbers the
    # three historical mixings (affine, BLAKE2b, SeedSequence) give, pinned so none can drift.
    assert [stream_seed(0, "subset", 3), stream_seed(2, "subset", 9)] == [3, 2000015]
    assert [stream_seed(0, "order", 0), stream_seed(11, "order", 2), stream_seed(11, "balanced", 2),
            stream_seed(4, "augment", 1, 7), stream_seed(0, "epoch", 3, 1)] == [
        5104172916443561106, 6947954896665523080, 2667180020808817714, 6073476681723793147,
        7901169888380164080]
    assert stream_seed(0, "order", 1) != stream_seed(0, "order", 2) != stream_seed(1, "order", 1)
    with pytest.raises(ValueError, match="unknown random stream 'dropout'; known: subset"):
        stream_seed(0, "dropout", 1)


# ---- one complete run ------------------------------------------------------------------------

def test_fit_writes_a_complete_run_log_and_checkpoint(reference, tmp_path):
    log, model = reference
    assert log["status"] == "finished" and len(log["epochs"]) == 4
    for key in ("config", "command", "seed", "versions", "device", "git", "started",
                "wall_time_s", "parameters", "segments", "final"):
        assert key in log, key
    assert log["versions"]["torch"] == torch.__version__ and log["versions"]["timm"]
    assert log["parameters"] == sum(p.numel() for p in model.parameters())
    assert log["config"] == make_config().to_dict() and log["device"]["amp"] == "none"
    first, last = log["epochs"][0], log["epochs"][-1]
    assert first["train_samples"] == 64 and last["test_samples"] == 30  # partial batch counted
    assert last["images_per_s"] > 0 and last["peak_gpu_memory_bytes"] is None
    assert last["test_acc"] > 0.6 and last["train_loss"] < first["train_loss"]
    schedule = Schedule(make_config(), steps_per_epoch=4)
    assert [m["lr"] for m in log["epochs"]] == [schedule.lr(4 * e - 1) for e in (1, 2, 3, 4)]
    assert log["wall_time_s"] >= sum(m["epoch_time_s"] for m in log["epochs"]) * 0.99

    # A fresh fit into another directory records the caller's command and dataset description.
    log2, _ = run(tmp_path, config=make_config(epochs=1), command="python -m vitcourse run x",
                  extra_log={"dataset": {"name": "synthetic"}})
    on_disk = read_run_log(tmp_path)
    assert on_disk == log2 and on_disk["command"] == "python -m vitcourse run x"
    assert on_disk["dataset"] == {"name": "synthetic"}
    ckpt = latest_checkpoint(tmp_path / "checkpoint")
    assert ckpt.name == "epoch_0001.json"
    assert sorted(p.name for p in ckpt.parent.iterdir()) == ["epoch_0001.json",
                                                             "epoch_0001.safetensors"]
    tensors = load_file(str(ckpt.with_suffix(".safetensors")))
    assert any(k.startswith("optimizer/") and k.endswith("/exp_avg") for k in tensors)
    with pytest.raises(ValueError, match="may not set \\['status'\\]"):
        run(tmp_path / "other", extra_log={"status": "mine"})


def test_a_finished_run_returns_its_log_and_weights_without_training(reference, tmp_path):
    run(tmp_path, config=make_config(epochs=2))
    before = (tmp_path / "run.json").read_text()
    calls = []
    log, model = run(tmp_path, config=make_config(epochs=2), model_seed=99,
                     on_epoch_end=calls.append)
    assert calls == [] and (tmp_path / "run.json").read_text() == before
    check = make_model(99)
    load_checkpoint(latest_checkpoint(tmp_path / "checkpoint"), check)
    assert_same_weights(model, check)


def test_a_different_config_is_refused_naming_the_keys(tmp_path):
    run(tmp_path, config=make_config(epochs=1))
    with pytest.raises(ConfigMismatch) as err:
        run(tmp_path, config=make_config(epochs=1, lr=2e-2, label_smoothing=0.0, log_every=7))
    message = str(err.value)
    assert "lr: saved 0.01, now 0.02" in message and "label_smoothing" in message
    assert "log_every" not in message  # presentation only, may change
    assert "new run_dir" in message
    run(tmp_path / "b", config=make_config(epochs=2), stop_after_epoch=1)
    x_train, y_train, _, _ = make_data()  # same config, but the loader's batches changed
    with pytest.raises(ResumeMismatch, match="4 batches per epoch, the loader now yields 8"):
        fit(make_model(), InMemoryLoader(x_train, y_train, 8), None, make_config(epochs=2),
            tmp_path / "b", progress=False)


# ---- resume ----------------------------------------------------------------------------------

def test_a_run_interrupted_mid_epoch_resumes_to_the_same_result(reference, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, CrashingLoader, crash_at=(2, 1))  # during epoch 3, after 2 checkpoints
    assert read_run_log(tmp_path)["status"] == "running"
    assert len(read_run_log(tmp_path)["epochs"]) == 2
    log, model = run(tmp_path, model_seed=123)  # other initial weights: they must be replaced
    ref_log, ref_model = reference
    assert strip_timing(log["epochs"]) == strip_timing(ref_log["epochs"])
    assert_same_weights(model, ref_model)
    assert [s["start_epoch"] for s in log["segments"]] == [0, 2]


def test_stopping_early_then_resuming_equals_one_run(reference, tmp_path):
    ckpt = tmp_path / "weights"  # kept apart from the log, e.g. outside the results folder
    log, _ = run(tmp_path, stop_after_epoch=1, checkpoint_dir=ckpt)
    assert log["status"] == "running" and len(log["epochs"]) == 1
    log, _ = run(tmp_path, time_limit_s=0.0, checkpoint_dir=ckpt)  # always one epoch per call
    assert log["status"] == "running" and len(log["epochs"]) == 2
    assert sorted(p.name for p in ckpt.iterdir()) == ["epoch_0002.json", "epoch_0002.safetensors"]
    log, model = run(tmp_path, checkpoint_dir=ckpt)
    assert strip_timing(log["epochs"]) == strip_timing(reference[0]["epochs"])
    assert_same_weights(model, reference[1])


def test_checkpoints_only_when_asked_and_still_resumable(reference, tmp_path, monkeypatch):
    """checkpoint_every=0 (a GPU window's runs): one save at the end; a run stopped early saves its
    last epoch all the same and resumes to the same result."""
    import importlib
    fit_module = importlib.import_module("vitcourse.train.fit")   # the module, not the function
    saves = []
    real_save = fit_module.save_checkpoint
    monkeypatch.setattr(fit_module, "save_checkpoint", lambda d, epoch, *a, **k: (saves.append(epoch), real_save(d, epoch, *a, **k)))
    log, _ = run(tmp_path / "a", checkpoint_every=0)
    assert saves == [4] and log["status"] == "finished"
    saves.clear()
    run(tmp_path / "b", checkpoint_every=3, stop_after_epoch=2)   # stopped between checkpoints
    assert saves == [2]
    log, model = run(tmp_path / "b", checkpoint_every=3)
    assert saves == [2, 3, 4]
    assert strip_timing(log["epochs"]) == strip_timing(reference[0]["epochs"])
    assert_same_weights(model, reference[1])


def test_sgd_with_batchnorm_resumes_exactly(tmp_path):
    """SGD momentum buffers and BatchNorm running statistics survive the checkpoint too."""
    def conv_net(seed):
        seed_everything(seed)
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, NUM_CLASSES))

    config = make_config(epochs=3, optimizer="sgd", lr=0.1, weight_decay=5e-4)
    train, test = make_loaders()
    whole_model = conv_net(0)
    whole = fit(whole_model, train, test, config, tmp_path / "whole", progress=False)
    with pytest.raises(KeyboardInterrupt):
        crashing, _ = make_loaders(CrashingLoader, crash_at=(1, 2))
        fit(conv_net(0), crashing, test, config, tmp_path / "killed", progress=False)
    resumed_model = conv_net(5)  # other initial weights and BatchNorm statistics
    resumed = fit(resumed_model, train, test, config, tmp_path / "killed", progress=False)
    assert strip_timing(whole["epochs"]) == strip_timing(resumed["epochs"])
    assert_same_weights(whole_model, resumed_model)
    assert whole_model[1].num_batches_tracked.item() == 3 * 4


KILL_SCRIPT = """
import importlib.util, os, sys
sys.path.insert(0, os.path.dirname({test_file!r}))  # the tests' shared helpers module
spec = importlib.util.spec_from_file_location("test_train", {test_file!r})
t = importlib.util.module_from_spec(spec); spec.loader.exec_module(t)
t.run({run_dir!r}, t.CrashingLoader, crash_at=(2, 2), marker={marker!r})
"""


def test_a_sigkilled_run_resumes_to_the_same_result(reference, tmp_path):
    """The convincing variant: a real process, killed with SIGKILL in the middle of epoch 3."""
    run_dir, marker = tmp_path / "run", tmp_path / "stalled"
    script = KILL_SCRIPT.format(test_file=str(THIS_FILE), run_dir=str(run_dir), marker=str(marker))
    child = subprocess.Popen([sys.executable, "-c", script], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            if child.poll() is not None:
                pytest.fail("the child exited early:\n" + child.stdout.read().decode())
            assert time.monotonic() < deadline, "the child never reached epoch 3"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert len(read_run_log(run_dir)["epochs"]) == 2
    log, model = run(run_dir, model_seed=7)
    assert log["status"] == "finished"
    assert strip_timing(log["epochs"]) == strip_timing(reference[0]["epochs"])
    assert_same_weights(model, reference[1])


# ---- divergence ------------------------------------------------------------------------------

def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(reference, tmp_path):
    with pytest.raises(TrainingDiverged) as err:
        run(tmp_path, NaNLoader, nan_at=(1, 3))  # epoch 2 (1-based), step 3
    assert (err.value.epoch, err.value.step) == (2, 3) and math.isnan(err.value.loss)
    assert "epoch 2, step 3" in str(err.value) and "after epoch 1 is kept" in str(err.value)
    log = read_run_log(tmp_path)
    assert log["status"] == "diverged" and log["divergence"]["epoch"] == 2
    assert len(log["epochs"]) == 1
    ckpt = latest_checkpoint(tmp_path / "checkpoint")
    assert ckpt.name == "epoch_0001.json"
    # The kept checkpoint holds finite weights: those the reference run had after epoch 1.
    check = make_model(11)
    load_checkpoint(ckpt, check)
    assert all(torch.isfinite(p).all() for p in check.parameters())
    resumed, _ = run(tmp_path, config=make_config(), stop_after_epoch=1)
    assert strip_timing(resumed["epochs"]) == strip_timing(reference[0]["epochs"][:1])


def test_divergence_from_a_huge_learning_rate_is_caught(tmp_path):
    config = make_config(epochs=2, lr=1e30, warmup_epochs=0, grad_clip=None, log_every=50)
    with pytest.raises(TrainingDiverged, match="training diverged: loss = (nan|inf)"):
        run(tmp_path, config=config)
    assert read_run_log(tmp_path)["status"] == "diverged"


# ---- soft targets and the progress bar -------------------------------------------------------

def test_soft_targets_train_and_count_accuracy_by_their_dominant_class(tmp_path):
    x_train, y_train, x_test, y_test = make_data()
    soft = torch.nn.functional.one_hot(y_train, NUM_CLASSES).float() * 0.7 + 0.1
    train = InMemoryLoader(x_train, soft, 16, seed=1)
    test = InMemoryLoader(x_test, y_test, 16, shuffle=False, drop_last=False)
    log = fit(make_model(dropout=0.0), train, test, make_config(epochs=2), tmp_path,
              progress=False)
    first = log["epochs"][0]
    assert 0.0 <= first["train_acc"] <= 1.0 and first["train_samples"] == 64
    assert log["epochs"][-1]["test_acc"] > 1 / NUM_CLASSES


def test_training_without_a_test_set_logs_null_test_metrics(tmp_path):
    train, _ = make_loaders()
    log = fit(make_model(), train, None, make_config(epochs=1), tmp_path, progress=False)
    assert log["status"] == "finished"
    assert log["epochs"][0]["test_acc"] is None and log["epochs"][0]["test_samples"] == 0


def test_progress_is_plain_text_and_quiet_in_ci(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CI", raising=False)
    train, test = make_loaders()
    fit(make_model(), train, test, make_config(epochs=1), tmp_path / "a", progress=True)
    out = capsys.readouterr().out
    assert "epoch 1/1: train loss" in out and "img/s" in out
    monkeypatch.setenv("CI", "true")
    fit(make_model(), train, test, make_config(epochs=1), tmp_path / "b", progress=True)
    assert capsys.readouterr().out == ""


def test_custom_objectives_plug_into_the_loop(tmp_path):
    """Another loss (here: class-weighted CE) and a label-free objective (logits None) both train."""
    import torch.nn.functional as F

    weights = torch.tensor([3.0, 1.0, 1.0])

    def weighted(net, images, targets):
        logits = net(images)
        return F.cross_entropy(logits.float(), targets, weight=weights), logits

    def label_free(net, images, targets):  # e.g. reconstruction pre-training: no logits
        return net(images).float().pow(2).mean(), None

    plain, _ = run(tmp_path / "plain", config=make_config(epochs=1))
    log, _ = run(tmp_path / "weighted", config=make_config(epochs=1), objective=weighted)
    assert log["status"] == "finished" and log["epochs"][0]["train_loss"] != plain["epochs"][0]["train_loss"]
    train, _ = make_loaders()
    log = fit(make_model(), train, None, make_config(epochs=1), tmp_path / "ssl", progress=False,
              objective=label_free)
    assert log["status"] == "finished" and log["epochs"][0]["train_acc"] == 0.0


def test_progress_modes(monkeypatch, capsys):
    """A terminal gets a bar and summary lines; CI is silent; a GPU chunk's log gets the summary
    line of every epoch (no bar) even under CI."""
    from vitcourse.train.progress import Progress

    def lines(env):
        for key in ("CI", "VITCOURSE_EPOCH_LINES"):
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        bar = Progress(True)
        bar.start_epoch(1, 2, 3)
        bar.update(3, 0.5, 0.25, 100.0)
        bar.end_epoch()
        bar.note("epoch 1/2 summary")
        return capsys.readouterr().out

    assert lines({"CI": "1"}) == ""
    assert lines({"CI": "1", "VITCOURSE_EPOCH_LINES": "1"}) == "epoch 1/2 summary\n"
    assert "epoch 1/2 summary" in lines({})
    assert Progress(False).enabled is False and Progress(False).lines_only is False


def test_resumed_moment_buffers_keep_their_parameters_memory_layout(tmp_path):
    """Safetensors stores contiguous tensors; after loading, a channels-last conv weight's AdamW
    moments must have the weight's strides again (CUDA's fused AdamW refuses them otherwise: the
    first GPU window's preflight resume failed on exactly this)."""
    from vitcourse.train.checkpoint import load_checkpoint, save_checkpoint
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 6 * 6, 2))
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images = torch.randn(4, 3, 8, 8).to(memory_format=torch.channels_last)
    model(images).sum().backward()
    optimizer.step()
    conv = model[0].weight
    assert conv.stride() != conv.contiguous().stride()      # the case under test
    load_checkpoint(save_checkpoint(tmp_path, 1, model, optimizer, {}), model, optimizer)
    for param in model.parameters():
        for key in ("exp_avg", "exp_avg_sq"):
            assert optimizer.state[param][key].stride() == param.stride(), key


def test_the_weight_average_follows_its_recurrence_is_tested_and_resumes_exactly(tmp_path):
    """weight_average=d keeps w_avg <- d w_avg + (1 - d) w after every step, logs its test accuracy
    beside the trained weights' and survives a stop and resume bit for bit."""
    from vitcourse.train.average import WeightAverage
    from vitcourse.train.runlog import validate_run_log
    torch.manual_seed(0)
    net = nn.Linear(3, 2)
    average = WeightAverage(net, 0.9)
    expected = [p.detach().clone() for p in net.parameters()]
    for _ in range(3):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
        average.update()
        expected = [0.9 * e + 0.1 * p.detach() for e, p in zip(expected, net.parameters())]
    for mine, e in zip(average.model.parameters(), expected):
        torch.testing.assert_close(mine, e)
    assert not any(p.requires_grad for p in average.model.parameters())

    config = make_config(weight_average=0.8)
    whole, _ = run(tmp_path / "whole", config=config)
    assert whole["status"] == "finished" and validate_run_log(whole) == []
    last = whole["epochs"][-1]
    assert 0 <= last["avg_test_acc"] <= 1 and last["avg_test_loss"] != last["test_loss"]
    run(tmp_path / "stopped", config=config, stop_after_epoch=2)
    resumed, _ = run(tmp_path / "stopped", config=config, model_seed=5)   # weights come from the checkpoint
    assert strip_timing(resumed["epochs"]) == strip_timing(whole["epochs"])
    with pytest.raises(ValueError, match=r"weight_average .* must be in \(0, 1\)"):
        make_config(weight_average=1.0)
    plain, _ = run(tmp_path / "plain")        # off by default: nothing averaged, nothing logged
    assert "avg_test_acc" not in plain["epochs"][-1]


# ---- a time budget: as many epochs as fit ----------------------------------------------------

def test_a_time_budget_decides_the_epochs_from_its_probe():
    from vitcourse.train.time_budget import epochs_within, evaluations_between
    assert evaluations_between(3, 10, 5) == 2 and evaluations_between(3, 12, 5) == 3   # 5, 10, 12
    assert evaluations_between(3, 11, 5) == 3 and evaluations_between(3, 3, 5) == 0
    # 100 s in all, 10 spent: ten more epochs of 9 s fit; with a 10 s test pass every 4th epoch and
    # after the last, six: 54 s + passes after epochs 4, 8, 9 = 84 s (seven: 63 + 30 = 93 s).
    assert epochs_within(100, 10, 3, 50, 9.0, 0.0, 1) == 13
    assert epochs_within(100, 10, 3, 50, 9.0, 10.0, 4) == 9
    assert epochs_within(100, 10, 3, 11, 1.0, 0.0, 1) == 11        # never more than the most
    assert epochs_within(100, 99, 3, 50, 9.0, 0.0, 1) == 3         # nothing more fits: stop now
    for bad in (dict(time_budget_min=0.0), dict(time_budget_min=1.0, warmup_epochs=1),
                dict(time_budget_min=1.0, epochs=3, warmup_epochs=3)):
        with pytest.raises(ValueError, match="time"):
            make_config(**bad)


def test_a_run_with_a_time_budget_stays_within_it(tmp_path):
    """Four 0.1 s batches per epoch, a 12 s budget, at most 60 epochs (24 s): the run probes 3
    epochs, decides how many fit, and ends near its budget."""
    from vitcourse.train.runlog import validate_run_log

    class SlowLoader(InMemoryLoader):   # each batch takes a known time, as on a busy GPU
        def __iter__(self):
            for batch in super().__iter__():
                time.sleep(0.1)
                yield batch

    config = make_config(epochs=60, warmup_epochs=3, time_budget_min=0.2)
    log, _ = run(tmp_path / "budget", loader_cls=SlowLoader, config=config)
    decided = log["time_budget"]["epochs"]
    assert 3 < decided < 60 and log["status"] == "finished" and len(log["epochs"]) == decided
    assert validate_run_log(log) == [] and log["time_budget"]["decided_after_epoch"] == 3
    slowest = max(e["epoch_time_s"] for e in log["epochs"][1:])
    assert log["wall_time_s"] <= 12.0 + 2 * slowest + 1.0, (log["wall_time_s"], log["time_budget"])


def decide_seven(monkeypatch):
    """Whatever the clock says, the budget holds 7 epochs: the tests below check what follows
    from a decision, not the timing (the test above does)."""
    from vitcourse.train import time_budget
    monkeypatch.setattr(time_budget, "epochs_within", lambda *args: 7)
    return make_config(epochs=40, warmup_epochs=3, time_budget_min=1.0)


def test_a_run_with_a_time_budget_is_the_run_of_the_epochs_it_decided(tmp_path, monkeypatch):
    """Warm-up covers the probe, so no step before the decision depends on it: the budgeted run
    ends with the weights and metrics of a plain 7-epoch run."""
    from vitcourse.train.runlog import validate_run_log
    config = decide_seven(monkeypatch)
    log, model = run(tmp_path / "budget", config=config)
    assert log["time_budget"]["epochs"] == 7 and len(log["epochs"]) == 7 and log["status"] == "finished"
    assert validate_run_log(log) == []
    plain, plain_model = run(tmp_path / "plain", config=make_config(epochs=7, warmup_epochs=3))
    assert strip_timing(plain["epochs"]) == strip_timing(log["epochs"])
    assert_same_weights(model, plain_model)
    # Finished: fit returns it as it is; the decision is read back from the log and the checkpoint.
    again, _ = run(tmp_path / "budget", config=config, model_seed=5)
    assert again["time_budget"] == log["time_budget"] and len(again["epochs"]) == 7


def test_a_time_budget_survives_stops_before_and_after_its_decision(tmp_path, monkeypatch):
    from vitcourse.train.runlog import validate_run_log
    config = decide_seven(monkeypatch)
    first, _ = run(tmp_path / "run", config=config, stop_after_epoch=2)
    assert "time_budget" not in first and first["status"] == "running"
    second, _ = run(tmp_path / "run", config=config, stop_after_epoch=5)
    decision = second["time_budget"]      # decided after epoch 3, in the second segment
    assert decision["decided_after_epoch"] == 3 and second["status"] == "running"
    last, model = run(tmp_path / "run", config=config, model_seed=5)
    assert last["time_budget"] == decision and len(last["epochs"]) == 7
    assert last["status"] == "finished" and validate_run_log(last) == []
    _, plain_model = run(tmp_path / "plain", config=make_config(epochs=7, warmup_epochs=3))
    assert_same_weights(model, plain_model)


def test_a_budget_spent_by_the_probe_ends_the_run_after_it(tmp_path):
    config = make_config(epochs=40, warmup_epochs=3, time_budget_min=1e-4)
    log, _ = run(tmp_path / "run", config=config)
    assert log["time_budget"]["epochs"] == 3 and len(log["epochs"]) == 3 and log["status"] == "finished"
    bad = dict(log, time_budget={**log["time_budget"], "epochs": 41})
    from vitcourse.train.runlog import validate_run_log
    assert any("time_budget.epochs" in p for p in validate_run_log(bad))
