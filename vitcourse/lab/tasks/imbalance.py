"""Tasks of Part III's class-imbalance chapter: "class_weighted", "ohem" and "per_class_eval"
(plain cross-entropy); each saves the test confusion matrix (per_class.npz) after training."""

from __future__ import annotations

from vitcourse.pretrain import class_weights, ohem_objective, weighted_ce_objective

from .evaluation import save_per_class
from .setup import TaskRun, TaskSetup


def class_weighted(model, run: TaskRun, power=1.0, label_smoothing=0.0, per_class=True) -> TaskSetup:
    after = save_per_class if per_class else None
    if run.dataset is None:
        return TaskSetup(model)
    weights = class_weights(run.dataset.class_counts("train"), power)
    return TaskSetup(model, objective=weighted_ce_objective(weights, label_smoothing), after_fit=after)


def ohem(model, run: TaskRun, keep=0.5, label_smoothing=0.0, per_class=True) -> TaskSetup:
    return TaskSetup(model, objective=ohem_objective(keep, label_smoothing),
                     after_fit=save_per_class if per_class else None)


def per_class_eval(model, run: TaskRun) -> TaskSetup:
    """Plain classification (the train config's cross-entropy) plus per_class.npz after training."""
    return TaskSetup(model, after_fit=save_per_class)
