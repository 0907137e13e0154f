"""Run one experiment (profile + seed) through the shared training loop and log it.

The same function serves `python -m vitcourse run`, the suite, the notebooks and the tests.
"""

from __future__ import annotations

from typing import Any

from vitcourse.data import load_dataset, long_tailed, per_class_fraction
from vitcourse.data import TensorLoader
from vitcourse.train import TrainConfig, fit, init_distributed, read_run_log, seed_everything

from . import paths
from .models import build_model
from .registry import get_experiment


def command_for(name: str, profile: str, seed: int) -> str:
    return f"python -m vitcourse run {name} --profile {profile} --seed {seed}"


def prepare_dataset(data_spec: dict, local: str | None = None):
    """Load the dataset and apply the experiment's training subset (the test set stays whole)."""
    dataset = load_dataset(data_spec["dataset"], root=str(paths.data_root()), local=local)
    subset_seed = data_spec.get("subset_seed", 0)
    if "imbalance" in data_spec:
        idx = long_tailed(dataset.train_labels, data_spec["imbalance"], seed=subset_seed)
        dataset = dataset.with_train_subset(idx, f"long-tailed, imbalance ratio {data_spec['imbalance']}")
    fraction = data_spec.get("fraction", 1.0)
    if fraction < 1.0:
        idx = per_class_fraction(dataset.train_labels, fraction, seed=subset_seed)
        dataset = dataset.with_train_subset(idx, f"{fraction:.0%} per class")
    return dataset


def run_experiment(name: str, profile: str = "smoke", seed: int | None = None, *,
                   device: str | None = None, time_limit_s: float | None = None,
                   progress: bool = True, local: str | None = None) -> dict[str, Any]:
    """Train (or resume, or just return) one run; returns its run log."""
    exp = get_experiment(name)
    spec = exp.profile(profile)
    seed = exp.seeds_for(profile)[0] if seed is None else seed
    run_dir = paths.run_dir(name, profile, seed)
    done = read_run_log(run_dir)
    if done and done.get("status") == "finished":
        return done

    ctx = init_distributed(device)
    dataset = prepare_dataset(spec["data"], local=local)
    config = TrainConfig(**{**spec["train"], "seed": seed})
    augment = spec["data"].get("augment")
    kw = dict(device=ctx.device, seed=seed, rank=ctx.rank, world_size=ctx.world_size)
    train_loader = TensorLoader.from_dataset(dataset, "train", config.batch_size, augment=augment, **kw)
    test_loader = TensorLoader.from_dataset(dataset, "test", config.batch_size, augment=augment, **kw)
    channels, height, _ = dataset.image_shape
    resize = train_loader.augment.config.resize if train_loader.augment is not None else None
    seed_everything(seed)
    model = build_model(spec["model"], dataset.num_classes, channels, resize or height)
    return fit(model, train_loader, test_loader, config, run_dir,
               command=command_for(name, profile, seed), progress=progress, device=ctx.device,
               checkpoint_dir=paths.checkpoint_dir(name, profile, seed), time_limit_s=time_limit_s,
               extra_log=dict(experiment=name, profile=profile, chapter=exp.chapter,
                              description=exp.description, spec=spec, dataset=dataset.describe()))
