"""The core set: the full-profile runs that carry each chapter's main claim, in order of value.

GPU time comes in rare 15-minute windows (about 9.5 minutes of one command), so the book's main
claims must fit in at most two of them: at the budget's assumed constants (before any
calibration) the core set totals at most CORE_BUDGET_MINUTES estimated H100-minutes (a test keeps
it so). A window runs the core first, in this order, then everything else (the extended set) in
suite order. Each entry says which claim it carries.
"""

from __future__ import annotations

import dataclasses

from ..experiment import Experiment

CORE_BUDGET_MINUTES = 20.0

CORE: list[str] = [
    # Part III, recipe: the headline run (a plain ViT at >= 93% is the goal), a window of its own.
    "recipe_7_long",
    # Part II: the first training run, whose weights Part II and the inspection chapter analyse.
    "first_run",
    # Recipe ladder: the source setting, then one ingredient per rung up to the full recipe.
    "recipe_0_source", "recipe_1_adamw_cosine", "recipe_2_crop_flip", "recipe_3_randaugment",
    "recipe_6_stochastic_depth",
    # ViT vs ResNet-18 at the same estimated GPU time, each with its own recipe.
    "compare_recipe_vit4", "compare_same_time_resnet18",
    # How much data: ViT vs ResNet-18 at 10% and 50% of CIFAR-10, the same images seen.
    "data_vit_10pct", "data_resnet18_10pct", "data_vit_50pct", "data_resnet18_50pct",
    # Inside a trained ViT (weights kept) and the ResNet it is compared with (also the teacher).
    "inspect_vit_data100", "inspect_resnet18",
    # Lighter ViT: distillation from that teacher, then pruning and int8.
    "light_kd_soft",
    # Pre-training: MAE, then the fine-tuning it is judged by and the from-scratch baseline.
    "transfer_mae_pretrain", "transfer_scratch", "transfer_mae_ft",
    # Imbalance at ratio 100: cross-entropy vs class-balanced sampling.
    "lt100_ce", "lt100_balanced",
]

# Runs whose final weights come back from the GPU (bf16, data/weights/) for chapters that analyse
# trained models on a CPU. Two small ViTs: about 13 MB together, well inside one returned file.
KEEP_WEIGHTS: list[str] = ["first_run", "inspect_vit_data100"]


def with_core_tags(experiments: list[Experiment]) -> list[Experiment]:
    """The experiments with `core` (its rank in CORE) and `keep_weights` set from the lists above."""
    names = {exp.name for exp in experiments}
    unknown = (set(CORE) | set(KEEP_WEIGHTS)) - names
    if unknown:
        raise KeyError(f"core_set names experiments that do not exist: {sorted(unknown)}")
    return [dataclasses.replace(exp, core=CORE.index(exp.name) if exp.name in CORE else None,
                                keep_weights=exp.name in KEEP_WEIGHTS) for exp in experiments]
