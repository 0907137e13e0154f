"""Part III, chapter 6: looking inside a trained ViT (the paper's Sec. 4.5 on our own models).

Four ViTs that differ only in how much data they saw (10% or 100% of CIFAR-10) and how strongly
it was augmented (crop+flip, or DeiT's RandAugment + Mixup/CutMix + random erasing), and one
ResNet-18 for the translation test (it is also chapter 7's distillation teacher). Each run's
"inspect" task saves attention maps, rollout, mean attention distances, the position table,
patch-filter principal components and the translation test as inspection.npz.
"""

from ..experiment import Experiment

# This chapter's experiments, in suite order (the catalog lists the chapters in order).
EXPERIMENTS: list[Experiment] = []

CHAPTER = "Part III: Looking inside a trained ViT"

# The inspected ViT: patch 4 at 32 px (64 patches + class token), D=192, 6 layers, 6 heads of 32
# dims: more heads than the first run's 3, so each layer has a spread of heads to compare.
VIT = dict(arch="vit", patch_size=4, dim=192, depth=6, heads=6, mlp_ratio=2.0)
VIT_TRAIN = dict(epochs=40, batch_size=512, optimizer="adamw", lr=1e-3, weight_decay=0.05,
                 warmup_epochs=3, label_smoothing=0.1, grad_clip=1.0, amp="bf16")
# Smoke: a tiny ViT that still has several layers and heads to inspect, trained for seconds.
VIT_SMOKE = dict(dim=64, depth=3, heads=4)
SMOKE_TRAIN = dict(epochs=2, batch_size=128, warmup_epochs=1, log_every=10)
SMOKE_FRACTION = 0.05    # stands in for "100%" in the smoke profile ...
SMOKE_SMALL = 0.01       # ... and this for "10%": the same tenfold ratio
SMOKE_TEST = 0.2         # smoke runs score on a balanced fifth of the test set (2,000 images)

INSPECT_FULL = dict(name="inspect", distance_images=512, translation_images=2000, pcs=24)
INSPECT_SMOKE = dict(distance_images=64, translation_images=64, pcs=16)

TEACHER = "inspect_resnet18"

# ResNet-18 in its CIFAR form with SGD + Nesterov, the usual CNN recipe. Smoke: torchvision's
# ImageNet stem (stride-4 entry) so that a CPU evaluates the 10,000 test images in seconds.
EXPERIMENTS.append(Experiment(
    name=TEACHER, chapter=CHAPTER,
    description="ResNet-18 (CIFAR stem) on CIFAR-10 with crop+flip: translation test and distillation teacher",
    base=dict(
        model=dict(arch="resnet18", stem="cifar"),
        data=dict(dataset="cifar10", fraction=1.0, augment="basic"),
        train=dict(epochs=18, batch_size=512, optimizer="sgd", lr=0.2, momentum=0.9, nesterov=True,
                   weight_decay=5e-4, warmup_epochs=1, label_smoothing=0.1, grad_clip=None, amp="bf16",
                   channels_last=True),
        task=INSPECT_FULL,
    ),
    smoke=dict(model=dict(stem="imagenet"), data=dict(fraction=SMOKE_FRACTION, test_fraction=SMOKE_TEST),
               train=dict(epochs=2, batch_size=128, lr=0.02, warmup_epochs=0, log_every=10), task=INSPECT_SMOKE),
))


def _vit(name: str, fraction: float, augment: str, description: str, epochs: int, warmup: int,
         smoke_fraction: float):
    EXPERIMENTS.append(Experiment(
        name=name, chapter=CHAPTER, description=description,
        base=dict(model=VIT, data=dict(dataset="cifar10", fraction=fraction, augment=augment),
                  train=dict(VIT_TRAIN, epochs=epochs, warmup_epochs=warmup), task=INSPECT_FULL),
        smoke=dict(model=VIT_SMOKE, data=dict(fraction=smoke_fraction, test_fraction=SMOKE_TEST), train=SMOKE_TRAIN,
                   task=INSPECT_SMOKE),
    ))


# 10% of the data gets more epochs (about 40% of the optimizer steps of the 100% runs), so the
# comparison is between amounts of data, not between a trained and an undertrained model.
_vit("inspect_vit_data100", 1.0, "basic", "ViT (p4, D=192, 6x6 heads), 100% of CIFAR-10, crop+flip", 40, 3, SMOKE_FRACTION)
_vit("inspect_vit_data100_strong", 1.0, "deit", "same ViT, 100% of the data, DeiT augmentation", 40, 3, SMOKE_FRACTION)
_vit("inspect_vit_data10", 0.1, "basic", "same ViT, 10% of CIFAR-10, crop+flip", 150, 10, SMOKE_SMALL)
_vit("inspect_vit_data10_strong", 0.1, "deit", "same ViT, 10% of the data, DeiT augmentation", 150, 10, SMOKE_SMALL)

INSPECT_EXPERIMENTS = (TEACHER, "inspect_vit_data100", "inspect_vit_data100_strong", "inspect_vit_data10",
                       "inspect_vit_data10_strong")
