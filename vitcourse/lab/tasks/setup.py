"""What a task is given and what it returns (see `vitcourse.lab.tasks` for the protocol)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from torch import nn


@dataclass(frozen=True)
class TaskRun:
    """The run a task sets up. `dataset` is None when `load_trained_model` only rebuilds the
    module's structure (then no weights are fetched and nothing is trained). `trained` is the
    runner's `trained_model` (a task may start from another experiment's finished run); it is
    passed in rather than imported because the runner itself calls the tasks."""

    dataset: Any | None = None
    profile: str = "smoke"
    seed: int = 0
    device: str = "cpu"
    trained: Callable[..., nn.Module] | None = None


@dataclass
class TaskSetup:
    model: nn.Module                                  # what fit trains (and checkpoints)
    objective: Callable | None = None                 # None: cross-entropy with label smoothing
    evaluate: bool = True                             # False: no test pass (e.g. pre-training)
    after_fit: Callable[[nn.Module, Any, Path], None] | None = None   # (model, dataset, run_dir)
    lr_scales: dict[str, float] | None = None         # {name prefix: lr factor}, see fit
