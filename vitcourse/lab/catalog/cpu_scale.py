"""The `cpu` profile: every experiment chapter's main claim, measured at a scale two CPU cores finish.

One file, so the whole laptop-scale plan reads at a glance. Each entry overrides the experiment's
shared spec (as a smoke profile does), keeping what the experiment compares and shrinking the rest:

* Part II's first run trains on all 50,000 training images (D=96, 6 layers, 9 epochs): the model
  that Part II and the inspection chapter analyse; its weights are committed under data/weights/.
* Part III uses one small ViT shape (patch 4, D=64, 4 layers, 2 heads, MLP ratio 2: 22 MFLOPs per
  image) and a ResNet-18 of the same forward FLOPs (width 9 instead of 64: 22 MFLOPs), subsets of
  2,500-25,000 training images, and always the full 10,000-image test set.

What changes per chapter is stated where it is set. Everything not named here is the experiment's
own spec (its recipe, augmentation, objective, batch and learning rate). `budget.estimate_cpu_minutes`
prices each run; a test keeps the whole profile within CPU_BUDGET_MINUTES.
"""

from __future__ import annotations

import dataclasses

from ..experiment import Experiment

CPU_BUDGET_MINUTES = 90.0          # the whole profile, on a 2-core laptop-class CPU
VIT = dict(dim=64, depth=4, heads=2)   # patch size and MLP ratio stay each experiment's own
RESNET_WIDTH = 9                   # 9/64 of ResNet-18's channels: the ViT's forward FLOPs
# fp32 and eager, measured: bf16 autocast is slower than fp32 on this class of CPU, and torch.compile
# trains this ViT shape only 8% faster (bench, data/results/bench/cpu-profile-vit/) while costing
# tens of seconds of compilation per run, more than it saves in runs of a few minutes.
CPU_TRAIN = dict(amp="none", log_every=10)


def _train(epochs: int, eval_every: int, **more) -> dict:
    return dict(CPU_TRAIN, epochs=epochs, eval_every=eval_every, **more)


def _vit(fraction: float, epochs: int, eval_every: int, **train) -> dict:
    return dict(model=VIT, data=dict(fraction=fraction), train=_train(epochs, eval_every, **train))


# Data scale: the same 75,000 training images seen at every subset size (as the GPU profile keeps
# its images seen fixed), warm-up a tenth of the run, a test pass about every third of it.
DATA_SCALE_IMAGES = 75_000
DATA_FRACTIONS = {"5pct": 0.05, "10pct": 0.1, "25pct": 0.25, "50pct": 0.5}


def _data_point(arch: str, fraction: float) -> dict:
    epochs = round(DATA_SCALE_IMAGES / (50_000 * fraction))
    train = _train(epochs, max(1, epochs // 3), warmup_epochs=round(epochs / 10, 2))
    model = VIT if arch == "vit" else dict(width=RESNET_WIDTH)
    return dict(model=model, data=dict(fraction=fraction), train=train)


CPU_PROFILES: dict[str, dict] = {
    # Part II: the first training run, on every training image.
    # (D=128 for 6 epochs reached 63.5% in 17 minutes and was still underfitting: at this budget
    # more epochs of a narrower model pay more than width.)
    "first_run": dict(model=dict(dim=96, depth=6, heads=3),
                      train=dict(epochs=9, batch_size=256, warmup_epochs=1, amp="none", log_every=50)),
    # Recipe: the source setting, the optimiser and schedule, crop and flip, and the whole recipe up
    # to stochastic depth; 10,000 images for 12 epochs (the ladder's own batch of 256 and its lrs).
    **{name: _vit(0.2, 12, 4) for name in ("recipe_0_source", "recipe_1_adamw_cosine",
                                             "recipe_2_crop_flip", "recipe_6_stochastic_depth")},
    # ViT vs ResNet: four training-set sizes each, the same images seen.
    **{f"data_{arch}_{tag}": _data_point(arch, f) for tag, f in DATA_FRACTIONS.items()
       for arch in ("vit", "resnet18")},
    # Ablations on 5,000 images, 12 epochs: patch 2/4/8, positions none/1-D/2-D, class token vs
    # average pooling each at two learning rates (abl_base is patch 4, learned 1-D, class token).
    **{name: _vit(0.1, 12, 4) for name in (
        "abl_base", "abl_patch8", "abl_patch2", "abl_pos_none", "abl_pos_2d",
        "abl_gap", "abl_gap_lr_low", "abl_cls_lr_low")},
    # Imbalance at ratio 100 (12,406 images): cross-entropy, class weights, OHEM, balanced sampling.
    **{name: dict(model=VIT, train=_train(8, 4, warmup_epochs=1))
       for name in ("lt100_ce", "lt100_weighted", "lt100_ohem", "lt100_balanced")},
    # Pre-training: MAE on all 50,000 images without labels (3 epochs, a 1-layer D=64 decoder),
    # then 5,000 labelled images: from scratch, fine-tuned, linearly probed (20 epochs each).
    "transfer_mae_pretrain": dict(model=VIT, train=_train(3, 1, warmup_epochs=0.3),
                                  task=dict(decoder_dim=64, decoder_depth=1, decoder_heads=2)),
    **{name: dict(model=VIT, train=_train(20, 5, warmup_epochs=2))
       for name in ("transfer_scratch", "transfer_mae_ft", "transfer_mae_probe")},
    # Distillation: a ResNet teacher (same FLOPs) into the ViT, vs the same ViT alone; 10,000
    # images, 10 epochs. The distilled run also measures head pruning and int8 on the CPU.
    "inspect_resnet18": dict(model=dict(width=RESNET_WIDTH), data=dict(fraction=0.2),
                             train=_train(10, 5, batch_size=256, lr=0.2)),
    "inspect_vit_data100": _vit(0.2, 10, 5, batch_size=256, warmup_epochs=1),
    "light_kd_soft": dict(_vit(0.2, 10, 5, batch_size=256, warmup_epochs=1),
                          task=dict(measure=dict(eval_images=2000, importance_images=1024, prune_steps=4,
                                                 latency_repeats=10, speed=False))),
}


def with_cpu_profiles(experiments: list[Experiment]) -> list[Experiment]:
    """The experiments, each named above given its cpu profile (Experiments are frozen: copies)."""
    unknown = set(CPU_PROFILES) - {exp.name for exp in experiments}
    if unknown:
        raise KeyError(f"cpu profiles for experiments that do not exist: {sorted(unknown)}")
    return [dataclasses.replace(exp, cpu=CPU_PROFILES[exp.name]) if exp.name in CPU_PROFILES else exp
            for exp in experiments]
