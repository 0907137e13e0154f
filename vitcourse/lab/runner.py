"""Run one experiment (profile + seed) through the course's training loop, log it, and give back
what a finished run trained.

The same functions serve `python -m vitcourse run`, the suite, the notebooks and the tests.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from torch import nn

from vitcourse.data import AugmentConfig, TensorLoader
from vitcourse.train import (RunLogError, TrainConfig, fit, init_distributed, latest_checkpoint, load_checkpoint,
                             read_run_log, seed_everything)

from . import paths
from .build import build_model, input_size, prepare_dataset
from .experiment import stale_keys
from .lock import run_lock
from .registry import get_experiment
from .results import is_finished
from .stale import refuse_stale
from .tasks import TaskRun, get_task


def command_for(name: str, profile: str, seed: int) -> str:
    return f"python -m vitcourse run {name} --profile {profile} --seed {seed}"


def default_seed(exp, profile: str) -> int:
    seeds = exp.seeds_for(profile)
    if not seeds:
        hint = (" It downloads pre-trained weights: set VITCOURSE_ONLINE=1 on a machine with network "
                "access, or pass a seed explicitly (--seed 0)." if getattr(exp, "requires_network", False)
                else " Pass a seed explicitly (--seed 0).")
        raise ValueError(f"experiment {exp.name!r} has no {profile} seeds on this machine.{hint}")
    return seeds[0]


def whole_batches(n: int, batch_size: int) -> int:
    """The largest batch <= 2 x batch_size that divides n: a compiled model then never meets a short
    last test batch (a new shape, so a recompilation). Training drops its last short batch. When
    no divisor is near batch_size (n prime), the short batch and its recompilation stay."""
    best = max(d for d in range(1, min(n, 2 * batch_size) + 1) if n % d == 0)
    return best if best >= batch_size // 2 else batch_size


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed {seed!r}: a seed is an int >= 0 (0, 1, 2, ...)")
    return seed


def finished_log(name: str, profile: str, seed: int, results_root: Path | None = None) -> dict | None:
    """The run's log when it is finished, valid and of the experiment's current spec; else None
    (not started, resumable, diverged, invalid or stale: `run_experiment` deals with those)."""
    try:
        log = read_run_log(paths.run_dir(name, profile, seed, results_root))
    except RunLogError:
        return None
    if log and log["status"] == "finished" and not stale_keys(log, get_experiment(name).profile(profile)):
        return log
    return None


def set_aside_invalid(run_dir: Path) -> None:
    """A run log that fails validation is not a result: keep it under another name, say so, and let
    the run start again (its checkpoint, if any, resumes it after the last completed epoch)."""
    try:
        read_run_log(run_dir)
    except RunLogError as err:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        aside = err.path.with_name(f"{err.path.name}.invalid-{stamp}")
        os.replace(err.path, aside)
        print(f"warning: {err.path} is not a valid run log ({'; '.join(err.problems[:3])}); "
              f"kept as {aside.name}, running the experiment again")


def run_experiment(name: str, profile: str = "smoke", seed: int | None = None, *,
                   device: str | None = None, time_limit_s: float | None = None,
                   progress: bool = True, local: str | None = None,
                   results_root: Path | None = None, checkpoint_every: int = 1) -> dict[str, Any]:
    """Train (or resume, or just return) one run; returns its run log. `results_root` moves the
    run log (not the checkpoints) away from the profile's usual results folder. While it trains,
    the run holds `run.lock` in its folder (RunLocked if another process holds it)."""
    exp = get_experiment(name)
    exp.profile(profile)   # an unknown profile fails here, before anything is written
    seed = default_seed(exp, profile) if seed is None else check_seed(seed)
    done = finished_log(name, profile, seed, results_root)
    if done:
        return done
    run_dir = paths.run_dir(name, profile, seed, results_root)
    main_rank = os.environ.get("RANK", "0") == "0"   # under torchrun, rank 0 holds the lock
    with run_lock(run_dir, command_for(name, profile, seed)) if main_rank else contextlib.nullcontext():
        if main_rank:
            set_aside_invalid(run_dir)
        done = refuse_stale(name, profile, seed, results_root)
        if done and done.get("status") == "finished":
            return done
        return _train(name, profile, seed, run_dir, device=device, time_limit_s=time_limit_s,
                      progress=progress, local=local, checkpoint_every=checkpoint_every)


def _train(name: str, profile: str, seed: int, run_dir: Path, *, device, time_limit_s, progress,
           local, checkpoint_every) -> dict[str, Any]:
    exp = get_experiment(name)
    spec = exp.profile(profile)
    setup_start = time.perf_counter()  # data loading and model building count in a run's wall-clock
    ctx = init_distributed(device)
    dataset = prepare_dataset(spec["data"], local=local)
    config = TrainConfig(**{**spec["train"], "seed": seed})
    augment = AugmentConfig.parse(spec["data"].get("augment"))  # the spec's preset name or dict
    kw = dict(device=ctx.device, seed=seed, rank=ctx.rank, world_size=ctx.world_size)
    train_loader = TensorLoader.from_dataset(dataset, "train", config.batch_size, augment=augment,
                                             sampling=spec["data"].get("sampling", "uniform"),
                                             compile_augment=config.compile and ctx.device.type == "cuda", **kw)
    test_batch = whole_batches(len(dataset.test_labels), config.batch_size) if config.compile else config.batch_size
    test_loader = TensorLoader.from_dataset(dataset, "test", test_batch, augment=augment, **kw)
    channels, height, _ = dataset.image_shape
    seed_everything(seed)
    model = build_model(spec["model"], dataset.num_classes, channels, input_size(spec["data"], height))
    make_task, options = get_task(spec)
    setup = make_task(model, TaskRun(dataset, profile, seed, ctx.device, trained_model), **options)
    log = fit(setup.model, train_loader, test_loader if setup.evaluate else None, config, run_dir,
              command=command_for(name, profile, seed), progress=progress, device=ctx.device,
              checkpoint_dir=paths.checkpoint_dir(name, profile, seed), time_limit_s=time_limit_s,
              objective=setup.objective, lr_scales=setup.lr_scales, checkpoint_every=checkpoint_every,
              extra_log=dict(experiment=name, profile=profile, chapter=exp.chapter,
                             description=exp.description, spec=spec, dataset=dataset.describe(),
                             setup_time_s=time.perf_counter() - setup_start))
    if log.get("status") == "finished" and setup.after_fit is not None and ctx.is_main:
        setup.after_fit(setup.model, dataset, run_dir)
    return log


def task_module(spec: dict, num_classes: int, image_shape: tuple[int, int, int], profile: str,
                seed: int) -> nn.Module:
    """The module a run of `spec` trains (its task's model), structure only, random weights, CPU.
    A TaskRun without a dataset tells the task to fetch no weights (a checkpoint or nothing fills them)."""
    channels, height, _ = image_shape
    model = build_model(spec["model"], num_classes, channels, input_size(spec["data"], height))
    make_task, options = get_task(spec)
    return make_task(model, TaskRun(None, profile, seed, "cpu"), **options).model


def load_trained_model(name: str, profile: str = "smoke", seed: int | None = None):
    """The module a finished run trained (its task's model), with its final weights, on the CPU."""
    exp = get_experiment(name)
    spec = exp.profile(profile)
    seed = default_seed(exp, profile) if seed is None else seed
    log = read_run_log(paths.run_dir(name, profile, seed))
    ckpt = latest_checkpoint(paths.checkpoint_dir(name, profile, seed))
    if not log or log.get("status") != "finished" or ckpt is None:
        raise FileNotFoundError(f"no finished run with weights for {name!r} ({profile}, seed {seed}): "
                                f"run `{command_for(name, profile, seed)}` first.")
    d = log["dataset"]
    model = task_module(spec, len(d["classes"]), tuple(d["image_shape"]), profile, seed)
    load_checkpoint(ckpt, model)
    return model.eval()


def trained_model(name: str, profile: str, seed: int, device: str | None = None, *, train_missing: bool = True,
                  retrain_lost_weights: bool = False) -> nn.Module:
    """Another experiment's finished model (CPU) for a task to start from: a pre-trained encoder,
    a distillation teacher. Never from an older spec's run (StaleRunError).

    train_missing: run it first when it has no finished run (else say which command to run).
    retrain_lost_weights: run logs are committed but checkpoints are not, so on a fresh GPU
    machine a full run can be "finished" without weights; then it is trained again with the same
    command and seed, its log going to a scratch folder, which puts its checkpoint where
    `load_trained_model` looks.
    """
    seeds = get_experiment(name).seeds_for(profile)
    seed = seed if seed in seeds or not seeds else seeds[0]
    refuse_stale(name, profile, seed)
    if not is_finished(name, profile, seed):
        if not train_missing:
            raise RuntimeError(
                f"fine-tuning needs the finished pre-training run {name!r} ({profile}, seed "
                f"{seed}); run `{command_for(name, profile, seed)}` first (the suite "
                f"runs it before its fine-tunings: call the suite again to continue).")
        run_experiment(name, profile, seed, device=device, progress=False)
    try:
        return load_trained_model(name, profile, seed)
    except FileNotFoundError as err:
        if not retrain_lost_weights:
            raise FileNotFoundError(
                f"{err} The run log of {name!r} is finished but its weights are not on this machine "
                f"(checkpoints stay out of git, under runs/checkpoints/): copy that folder from the machine "
                f"that trained it, or move data/results/{name}/{profile}/seed{seed} aside and "
                f"run it again.") from None
        if profile != "full":
            raise
    run_experiment(name, profile, seed, device=device, progress=False,
                   results_root=paths.runs_root() / "teacher-rebuild")
    return load_trained_model(name, profile, seed)
