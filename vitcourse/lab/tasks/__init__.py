"""Tasks: what a run does with its model beyond plain classification.

A task turns the freshly built model into what `fit` trains: it may wrap or replace the model
(e.g. an encoder-decoder for masked-image pre-training, a frozen backbone for a linear probe),
choose the objective (distillation, class weights, hard-example mining), start from another
experiment's finished run, and save small arrays after training for a chapter's figures.
An experiment names its task in its spec: {"task": {"name": "...", ...options}}; the default is
plain classification. A task is a function ``task(model, run: TaskRun, **options) -> TaskSetup``,
listed by name in `TASKS` below.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from . import distillation, imbalance, inspection, pretraining, transfer
from .setup import TaskRun, TaskSetup


def classify(model: nn.Module, run: TaskRun) -> TaskSetup:
    return TaskSetup(model)


TASKS: dict[str, Callable[..., TaskSetup]] = {
    "classify": classify,
    # Part III, pre-training and transfer
    "mae_pretrain": pretraining.mae_pretrain,
    "mpp_pretrain": pretraining.mpp_pretrain,
    "rotation_pretrain": pretraining.rotation_pretrain,
    "supervised_pretrain": pretraining.supervised_pretrain,
    "finetune_from": transfer.finetune_from,
    "linear_probe": transfer.linear_probe,
    "timm_pretrained": transfer.timm_pretrained,
    # Part III, class imbalance
    "class_weighted": imbalance.class_weighted,
    "ohem": imbalance.ohem,
    "per_class_eval": imbalance.per_class_eval,
    # Part III, looking inside a trained ViT; making it lighter
    "inspect": inspection.inspect,
    "distill": distillation.distill,
    "deit_distill": distillation.deit_distill,
}


def get_task(spec: dict) -> tuple[Callable[..., TaskSetup], dict]:
    task = dict(spec.get("task") or {"name": "classify"})
    name = task.pop("name", "classify")
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r} in experiment spec: tasks are {sorted(TASKS)}")
    return TASKS[name], task


__all__ = ["TASKS", "TaskRun", "TaskSetup", "get_task"]
