"""Run one experiment (profile + seed) through the shared training loop and log it.

The same function serves `python -m vitcourse run`, the suite, the notebooks and the tests.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from torch import nn

from vitcourse.data import AugmentConfig, TensorLoader, load_dataset, long_tailed, per_class_fraction
from vitcourse.train import TrainConfig, fit, init_distributed, read_run_log, seed_everything

from . import paths
from .models import build_model
from .registry import get_experiment
from .spec import stale_keys
from .tasks import get_task


class StaleRunError(RuntimeError):
    """A saved run was trained with another spec than the experiment's current one."""


def refuse_stale(name: str, profile: str, seed: int) -> dict | None:
    """The run's log, checked against the experiment's current spec. A smoke run of an older
    spec is deleted, to be redone (seconds; returns None); a full one is never silently replaced
    or used: StaleRunError names the keys that differ and the fix."""
    import shutil

    run_dir = paths.run_dir(name, profile, seed)
    log = read_run_log(run_dir)
    keys = stale_keys(log, get_experiment(name).profile(profile))
    if not keys:
        return log
    if profile != "smoke":
        raise StaleRunError(
            f"{run_dir} was trained with another spec than {name!r} has now (differs in "
            f"{', '.join(keys[:6])}): move that folder aside (and its checkpoints under "
            f"{paths.checkpoint_dir(name, profile, seed)}) to run the current spec, or restore the old spec.")
    print(f"{name} ({profile}, seed {seed}): the spec changed ({', '.join(keys[:4])}); running it again")
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(paths.checkpoint_dir(name, profile, seed), ignore_errors=True)
    return None


def command_for(name: str, profile: str, seed: int) -> str:
    return f"python -m vitcourse run {name} --profile {profile} --seed {seed}"


def input_size(data_spec: dict, native: int) -> int:
    """The side the model sees: the augmentation's resize (e.g. 224 for /16 models) or the native size."""
    aug = data_spec.get("augment")
    if isinstance(aug, str):
        aug = AugmentConfig.preset(aug)
    elif isinstance(aug, dict):
        aug = AugmentConfig.from_dict(aug)
    return (aug.resize if aug is not None else None) or native


def prepare_dataset(data_spec: dict, local: str | None = None):
    """Load the dataset and apply the experiment's training subset.

    The test set stays whole, except that a smoke profile may ask for a balanced ``test_fraction``
    of it: evaluating a CPU smoke model on all 10,000 images would dominate its run time.
    """
    dataset = load_dataset(data_spec["dataset"], root=str(paths.data_root()), local=local)
    subset_seed = data_spec.get("subset_seed", 0)
    if "imbalance" in data_spec:
        idx = long_tailed(dataset.train_labels, data_spec["imbalance"], seed=subset_seed)
        dataset = dataset.with_train_subset(idx, f"long-tailed, imbalance ratio {data_spec['imbalance']}")
    fraction = data_spec.get("fraction", 1.0)
    if fraction < 1.0:
        idx = per_class_fraction(dataset.train_labels, fraction, seed=subset_seed)
        dataset = dataset.with_train_subset(idx, f"{fraction:.0%} per class")
    test_fraction = data_spec.get("test_fraction", 1.0)
    if test_fraction < 1.0:
        idx = per_class_fraction(dataset.test_labels, test_fraction, seed=subset_seed)
        dataset = dataclasses.replace(dataset, test_images=dataset.test_images[idx],
                                      test_labels=dataset.test_labels[idx])
    return dataset


def default_seed(exp, profile: str) -> int:
    seeds = exp.seeds_for(profile)
    if not seeds:
        hint = (" It downloads pre-trained weights: set VITCOURSE_ONLINE=1 on a machine with network "
                "access, or pass a seed explicitly (--seed 0)." if getattr(exp, "requires_network", False)
                else " Pass a seed explicitly (--seed 0).")
        raise ValueError(f"experiment {exp.name!r} has no {profile} seeds on this machine.{hint}")
    return seeds[0]


def run_experiment(name: str, profile: str = "smoke", seed: int | None = None, *,
                   device: str | None = None, time_limit_s: float | None = None,
                   progress: bool = True, local: str | None = None) -> dict[str, Any]:
    """Train (or resume, or just return) one run; returns its run log."""
    exp = get_experiment(name)
    spec = exp.profile(profile)
    seed = default_seed(exp, profile) if seed is None else seed
    run_dir = paths.run_dir(name, profile, seed)
    done = refuse_stale(name, profile, seed)
    if done and done.get("status") == "finished":
        return done

    setup_start = time.perf_counter()  # data loading and model building count in a run's wall-clock
    ctx = init_distributed(device)
    dataset = prepare_dataset(spec["data"], local=local)
    config = TrainConfig(**{**spec["train"], "seed": seed})
    augment = spec["data"].get("augment")
    kw = dict(device=ctx.device, seed=seed, rank=ctx.rank, world_size=ctx.world_size)
    train_loader = TensorLoader.from_dataset(dataset, "train", config.batch_size, augment=augment,
                                             sampling=spec["data"].get("sampling", "uniform"), **kw)
    test_loader = TensorLoader.from_dataset(dataset, "test", config.batch_size, augment=augment, **kw)
    channels, height, _ = dataset.image_shape
    seed_everything(seed)
    model = build_model(spec["model"], dataset.num_classes, channels, input_size(spec["data"], height))
    make_task, options = get_task(spec)
    setup = make_task(model=model, dataset=dataset, profile=profile, seed=seed, device=ctx.device, **options)
    log = fit(setup.model, train_loader, test_loader if setup.evaluate else None, config, run_dir,
              command=command_for(name, profile, seed), progress=progress, device=ctx.device,
              checkpoint_dir=paths.checkpoint_dir(name, profile, seed), time_limit_s=time_limit_s,
              objective=setup.objective,
              extra_log=dict(experiment=name, profile=profile, chapter=exp.chapter,
                             description=exp.description, spec=spec, dataset=dataset.describe(),
                             setup_time_s=time.perf_counter() - setup_start))
    if log.get("status") == "finished" and setup.after_fit is not None and ctx.is_main:
        setup.after_fit(setup.model, dataset, run_dir)
    return log


def load_trained_model(name: str, profile: str = "smoke", seed: int | None = None):
    """The module a finished run trained (its task's model), with its final weights, on the CPU."""
    from vitcourse.train import latest_checkpoint, load_checkpoint

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


def task_module(spec: dict, num_classes: int, image_shape: tuple[int, int, int], profile: str,
                seed: int) -> nn.Module:
    """The module a run of `spec` trains (its task's model), structure only, random weights, CPU.
    dataset=None tells the task to fetch no weights (a checkpoint or nothing fills them)."""
    channels, height, _ = image_shape
    model = build_model(spec["model"], num_classes, channels, input_size(spec["data"], height))
    make_task, options = get_task(spec)
    return make_task(model=model, dataset=None, profile=profile, seed=seed, device="cpu", **options).model
