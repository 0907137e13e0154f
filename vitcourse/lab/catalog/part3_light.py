"""Part III, chapter 7: making ViT lighter and faster.

Two students with the architecture and recipe of `inspect_vit_data100` (which is their
no-teacher baseline), distilled from `inspect_resnet18`: soft-label distillation (Hinton et al.)
and DeiT's distillation token with hard labels. The soft student's run also measures head
pruning, int8 quantization and the training-speed sweep on the machine that trained it.
"""

from ..experiment import Experiment
from .part3_inspect import SMOKE_FRACTION, SMOKE_TEST, SMOKE_TRAIN, TEACHER, VIT, VIT_SMOKE, VIT_TRAIN

# This chapter's experiments, in suite order (the catalog lists the chapters in order).
EXPERIMENTS: list[Experiment] = []

CHAPTER = "Part III: Making ViT lighter and faster"
BASELINE = "inspect_vit_data100"

# Not counted by budget.experiment_gpu_minutes: the speed sweep in light_kd_soft's after_fit
# (eight short timings, one of them after a torch.compile) -- an allowance, checked in the tests.
SPEED_SWEEP_MINUTES = 1.5
MEASURE_FULL = dict(eval_images=2000, importance_images=2048, prune_steps=10, latency_repeats=30, speed=True)
MEASURE_SMOKE = dict(eval_images=256, importance_images=256, prune_steps=4, latency_repeats=5, speed=True,
                     speed_steps=2)


def _student(name: str, task: dict, description: str, measure: bool = False):
    full_task = dict(task, teacher=TEACHER, label_smoothing=VIT_TRAIN["label_smoothing"], eval_images=2000)
    smoke_task = dict(eval_images=256)
    if measure:
        full_task["measure"], smoke_task["measure"] = MEASURE_FULL, MEASURE_SMOKE
    EXPERIMENTS.append(Experiment(
        name=name, chapter=CHAPTER, description=description,
        base=dict(model=VIT, data=dict(dataset="cifar10", fraction=1.0, augment="basic"),
                  train=dict(VIT_TRAIN, label_smoothing=0.0), task=full_task),
        smoke=dict(model=VIT_SMOKE, data=dict(fraction=SMOKE_FRACTION, test_fraction=SMOKE_TEST), train=SMOKE_TRAIN,
                   task=smoke_task),
    ))


# Label smoothing moves from the trainer into the objective, where it applies to the label term only.
_student("light_kd_soft", dict(name="distill", kind="soft", alpha=0.5, tau=4.0),
         "ViT of inspect_vit_data100 distilled from ResNet-18, soft labels (alpha 0.5, tau 4); "
         "then pruning, int8 and speed measurements", measure=True)
_student("light_deit_hard", dict(name="deit_distill", kind="hard", alpha=0.5),
         "the same ViT plus DeiT's distillation token, hard teacher labels (alpha 0.5)")

LIGHT_EXPERIMENTS = (BASELINE, "light_kd_soft", "light_deit_hard")
