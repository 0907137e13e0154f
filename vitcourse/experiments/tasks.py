"""Tasks: what a run does with its model beyond plain classification.

A task turns the freshly built model into what `fit` trains: it may wrap or replace the model
(e.g. an encoder-decoder for masked-image pre-training, a frozen backbone for a linear probe),
choose the objective (distillation, class weights, hard-example mining), load weights from another
experiment's finished run, and save small arrays after training for a chapter's figures.
An experiment names its task in its spec: {"task": {"name": "...", ...options}}; the default is
plain classification. Chapters add tasks with `@register_task("name")`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from torch import nn

TASKS: dict[str, Callable[..., "TaskSetup"]] = {}


@dataclass
class TaskSetup:
    model: nn.Module                                  # what fit trains (and checkpoints)
    objective: Callable | None = None                 # None: cross-entropy with label smoothing
    evaluate: bool = True                             # False: no test pass (e.g. pre-training)
    after_fit: Callable[[nn.Module, Any, Path], None] | None = None   # (model, dataset, run_dir)


def register_task(name: str):
    def wrap(fn):
        if name in TASKS:
            raise ValueError(f"task {name!r} is registered twice")
        TASKS[name] = fn
        return fn
    return wrap


def get_task(spec: dict) -> tuple[Callable[..., TaskSetup], dict]:
    task = dict(spec.get("task") or {"name": "classify"})
    name = task.pop("name", "classify")
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r} in experiment spec: registered tasks are {sorted(TASKS)}")
    return TASKS[name], task


@register_task("classify")
def classify(model: nn.Module, **_) -> TaskSetup:
    return TaskSetup(model)
