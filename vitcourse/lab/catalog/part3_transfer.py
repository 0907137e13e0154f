"""Part III, chapter 4: pre-training and transfer.

Offline path (in the GPU suite): one small ViT encoder (patch 4, D=192, 6 layers) pre-trained
three ways on CIFAR-10's training set -- masked autoencoding and the paper's masked patch
prediction (images only, no labels), and supervised on five of the ten classes -- then
fine-tuned on a small labelled split (10% of the training set, all ten classes), probed
linearly with the encoder frozen, and fine-tuned at a higher resolution (48 px).
Registration order is suite order: every pre-training comes before the runs that start from it.

Online path (opt-in, outside the offline suite): timm's ImageNet-pre-trained ViT-B/16 and
ResNet-18 fine-tuned on CIFAR-10 at 224 px, each next to the same network trained from scratch.
These need downloaded weights, so `OnlineExperiment` hides their seeds (and GPU-minutes) unless
VITCOURSE_ONLINE=1 is set; `python -m vitcourse run NAME --profile full --seed 0` runs one anyway.
"""

from __future__ import annotations

import os

from ..experiment import Experiment

# This chapter's experiments, in suite order (the catalog lists the chapters in order).
EXPERIMENTS: list[Experiment] = []

CHAPTER = "Part III: Pre-training and transfer"
ONLINE_ENV = "VITCOURSE_ONLINE"

# The encoder every offline experiment of the chapter shares (fine-tuning copies it key for key).
ENCODER = dict(arch="vit", patch_size=4, dim=192, depth=6, heads=3, mlp_ratio=2.0)
SMOKE_ENCODER = dict(patch_size=8, dim=32, depth=2, heads=2)

# Pre-training: 100 epochs over the 50,000 images (MAE additionally uses Adam's beta2 = 0.95, as
# its paper does); no label smoothing, since there are no labels (the supervised run sets its own).
PRETRAIN_TRAIN = dict(epochs=100, batch_size=512, optimizer="adamw", lr=5e-4, weight_decay=0.05,
                      warmup_epochs=10, label_smoothing=0.0, grad_clip=1.0, amp="bf16")
SMOKE_PRETRAIN = dict(data=dict(fraction=0.02), train=dict(epochs=1, batch_size=100, warmup_epochs=0.5, log_every=5))

# Fine-tuning: 10% of the training images with labels (5,000, balanced), the same recipe for all;
# the fine-tunings also save their test confusion matrix (per_class.npz): seen vs new classes.
SMALL_SPLIT = 0.1
FINETUNE_TRAIN = dict(epochs=50, batch_size=128, optimizer="adamw", lr=5e-4, weight_decay=0.05,
                      warmup_epochs=5, label_smoothing=0.1, grad_clip=1.0, amp="bf16")
# A probe trains one linear layer: a higher lr and no weight decay or smoothing.
PROBE_TRAIN = dict(FINETUNE_TRAIN, lr=1e-3, weight_decay=0.0, label_smoothing=0.0)
# Smoke runs evaluate on a balanced 20% of the test set: on a CPU the full 10,000 would dominate.
SMOKE_FINETUNE = dict(data=dict(fraction=0.02, test_fraction=0.2), train=dict(epochs=2, batch_size=100, warmup_epochs=0.5, log_every=5))


class OnlineExperiment(Experiment):
    """An experiment of the online path: its seeds (so its suite runs and GPU-minutes) exist only
    when VITCOURSE_ONLINE=1, so the offline suite never tries to download weights."""

    requires_network = True

    def seeds_for(self, profile: str) -> tuple[int, ...]:
        return super().seeds_for(profile) if os.environ.get(ONLINE_ENV) == "1" else ()


def _smoke(**sections):
    """A smoke profile: the tiny encoder plus copies of the given sections (safe to modify)."""
    out = {k: dict(v) for k, v in sections.items()}
    out["model"] = dict(SMOKE_ENCODER)
    return out


def pretraining(name, description, task, smoke_task=None, train_extra=None):
    EXPERIMENTS.append(Experiment(
        name=name, chapter=CHAPTER, description=description,
        base=dict(model=ENCODER, data=dict(dataset="cifar10", fraction=1.0, augment="basic"),
                  train={**PRETRAIN_TRAIN, **(train_extra or {})}, task=task),
        smoke=_smoke(**SMOKE_PRETRAIN, **({"task": smoke_task} if smoke_task else {}))))


def finetuning(name, description, task, train=FINETUNE_TRAIN, augment="basic", smoke_epochs=2):
    smoke = _smoke(**SMOKE_FINETUNE)
    smoke["train"]["epochs"] = smoke_epochs
    EXPERIMENTS.append(Experiment(
        name=name, chapter=CHAPTER, description=description,
        base=dict(model=ENCODER, data=dict(dataset="cifar10", fraction=SMALL_SPLIT, augment=augment),
                  train=train, task=task),
        smoke=smoke))


# ---- pre-training (no fine-tuning before its pre-training: suite order) ---------------------------
pretraining("transfer_mae_pretrain", "MAE-style pre-training (75% of patches hidden, pixel loss) on "
            "CIFAR-10 train images without labels",
            dict(name="mae_pretrain", mask_ratio=0.75, decoder_dim=128, decoder_depth=2, decoder_heads=4),
            smoke_task=dict(decoder_dim=32, decoder_depth=1, decoder_heads=2),
            train_extra=dict(betas=(0.9, 0.95)))
pretraining("transfer_mpp_pretrain", "the paper's masked patch prediction (50% corrupted, 3-bit mean "
            "colour, 512 classes) on CIFAR-10 train images without labels", dict(name="mpp_pretrain"))
pretraining("transfer_sup_pretrain", "supervised pre-training on CIFAR-10 classes 0-4 only "
            "(25,000 labelled images)",
            dict(name="supervised_pretrain", classes=[0, 1, 2, 3, 4], label_smoothing=0.1),
            train_extra=dict(lr=1e-3, warmup_epochs=5))

# ---- fine-tuning on the small split: scratch vs each pre-training ----------------------------------
finetuning("transfer_scratch", "ViT from scratch on 10% of CIFAR-10 (the baseline of every fine-tuning)",
           dict(name="per_class_eval"))
for source, label in (("mae", "MAE"), ("mpp", "masked patch prediction"), ("sup", "supervised 5-class")):
    finetuning(f"transfer_{source}_ft", f"fine-tune the {label} encoder on 10% of CIFAR-10",
               dict(name="finetune_from", experiment=f"transfer_{source}_pretrain", per_class=True))
for source, label in (("mae", "MAE"), ("mpp", "masked patch prediction"), ("sup", "supervised 5-class")):
    finetuning(f"transfer_{source}_probe", f"linear probe (frozen encoder) of the {label} encoder "
               f"on 10% of CIFAR-10",
               dict(name="linear_probe", experiment=f"transfer_{source}_pretrain"),
               train=PROBE_TRAIN, smoke_epochs=1)
finetuning("transfer_sup_ft48", "fine-tune the supervised encoder at 48 px (position embeddings "
           "resampled from 8x8 to 12x12) on 10% of CIFAR-10",
           dict(name="finetune_from", experiment="transfer_sup_pretrain"), augment={"resize": 48}, smoke_epochs=1)

# ---- online path: ImageNet weights from timm (opt-in) ---------------------------------------------
ONLINE_TRAIN = dict(epochs=3, batch_size=256, optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=0.0,
                    warmup_epochs=0.5, label_smoothing=0.0, grad_clip=1.0, amp="bf16")
SCRATCH_TRAIN = dict(ONLINE_TRAIN, optimizer="adamw", lr=3e-4, weight_decay=0.05)
ONLINE_SMOKE = dict(data=dict(fraction=0.002), train=dict(epochs=1, batch_size=20, warmup_epochs=0, log_every=1))
VIT_B16 = dict(arch="vit", patch_size=16, dim=768, depth=12, heads=12, mlp_ratio=4.0)
VIT_TI16 = dict(dim=192, heads=3)  # smoke: timm's vit_tiny_patch16_224, same depth and patch
RESNET = dict(arch="resnet18", stem="imagenet")

for name, model, smoke_model, timm_name, smoke_timm, what in (
        ("timm_vit_b16", VIT_B16, VIT_TI16, "vit_base_patch16_224", "vit_tiny_patch16_224", "ViT-B/16"),
        ("timm_resnet18", RESNET, {}, "resnet18", "resnet18", "ResNet-18")):
    data = dict(dataset="cifar10", fraction=1.0, augment={"resize": 224})
    EXPERIMENTS.append(OnlineExperiment(
        name=f"{name}_ft", chapter=CHAPTER,
        description=f"ImageNet-pre-trained {what} from timm fine-tuned on CIFAR-10 at 224 px "
                    f"(needs network or $VITCOURSE_WEIGHTS_DIR; opt in with {ONLINE_ENV}=1)",
        base=dict(model=model, data=data, train=ONLINE_TRAIN,
                  task=dict(name="timm_pretrained", timm_name=timm_name)),
        smoke=dict(model=smoke_model, task=dict(timm_name=smoke_timm), **ONLINE_SMOKE)))
    EXPERIMENTS.append(OnlineExperiment(
        name=f"{name}_scratch", chapter=CHAPTER,
        description=f"{what} from scratch on CIFAR-10 at 224 px, the comparison for {name}_ft "
                    f"(opt in with {ONLINE_ENV}=1)",
        base=dict(model=model, data=data, train=SCRATCH_TRAIN if "vit" in name else dict(ONLINE_TRAIN, lr=0.1)),
        smoke=dict(model=smoke_model, **ONLINE_SMOKE)))
