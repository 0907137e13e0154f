"""Part III, chapter 5: when classes are imbalanced.

Long-tailed CIFAR-10 training sets (class i keeps 5000 * ratio^(-i/9) images: ratio 100 gives
5000 ... 50, 12,406 images; ratio 10 gives 5000 ... 500, 20,431), always tested on the balanced
10,000-image test set. Every run saves its test confusion matrix (per_class.npz) for the
per-class figures.

The baseline is plain cross-entropy with the source write-up's *mild* augmentation (horizontal
flip + random resized crop, scale 0.8-1.0). Each method changes one thing, for the ViT and for
ResNet-18 alike:
  class-weighted cross-entropy (w_c ~ N / N_c), online hard example mining (top 50% of losses),
  class-balanced sampling (every class equally likely in each batch, drawn with replacement),
  mild augmentation + colour jitter (brightness/contrast/saturation +-40%: the source found colour
  jitter hurt), strong augmentation (mild + TrivialAugment), and self-supervised pre-training on
  the imbalanced images themselves, then fine-tuning. The self-supervised method differs by
  architecture: the ViT is pre-trained as a masked autoencoder (the source's reconstruction
  pre-training) and fine-tuned with the encoder at 1/100 of the learning rate (the source's
  recipe) or at the full rate; ResNet-18 is pre-trained by rotation prediction (a masked-patch
  objective needs a patch encoder) and fine-tuned at the full rate.
At ratio 10 the ViT repeats the loss and sampling methods: does their ranking hold when the tail
is less extreme?
"""

from __future__ import annotations

from ..experiment import Experiment, deep_merge
from .part3_transfer import ENCODER, SMOKE_ENCODER

# This chapter's experiments, in suite order (the catalog lists the chapters in order).
EXPERIMENTS: list[Experiment] = []

CHAPTER = "Part III: When classes are imbalanced"

MILD = dict(crop=0, flip=True, rrc_scale=(0.8, 1.0))
AUGMENT = {"mild": MILD, "mild+jitter": dict(MILD, color_jitter=0.4), "strong": dict(MILD, policy="trivial")}

VIT_TRAIN = dict(epochs=50, batch_size=256, optimizer="adamw", lr=1e-3, weight_decay=0.05,
                 warmup_epochs=5, label_smoothing=0.0, grad_clip=1.0, amp="bf16")
RESNET_TRAIN = dict(epochs=25, batch_size=128, optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4,
                    warmup_epochs=1, label_smoothing=0.0, grad_clip=None, amp="bf16", channels_last=True)
MAE_TRAIN = dict(VIT_TRAIN, epochs=150, batch_size=512, lr=5e-4, betas=(0.9, 0.95), warmup_epochs=10)
# Smoke: the tiny encoder (or a 1/16-width ResNet), 10% of the long-tailed set, one epoch, a
# balanced 20% of the test set. Plumbing, not results.
SMOKE = dict(model=SMOKE_ENCODER, data=dict(fraction=0.1, test_fraction=0.2),
             train=dict(epochs=1, batch_size=100, warmup_epochs=0.5, log_every=5))
RESNET_SMOKE = dict(model=dict(width=4), data=dict(fraction=0.02, test_fraction=0.05),
                    train=dict(epochs=1, batch_size=50, warmup_epochs=0, log_every=1))
RESNET = dict(arch="resnet18", stem="cifar")

# Methods: (suffix, label, task, augmentation, sampling). The task's per_class.npz is what the
# chapter's per-class figures read.
METHODS = [
    ("ce", "cross-entropy", dict(name="per_class_eval"), "mild", "uniform"),
    ("weighted", "class-weighted", dict(name="class_weighted"), "mild", "uniform"),
    ("ohem", "OHEM (top 50%)", dict(name="ohem", keep=0.5), "mild", "uniform"),
    ("balanced", "class-balanced sampling", dict(name="per_class_eval"), "mild", "class_balanced"),
    ("jitter", "mild + colour jitter", dict(name="per_class_eval"), "mild+jitter", "uniform"),
    ("strong_aug", "strong augmentation", dict(name="per_class_eval"), "strong", "uniform"),
]
LABELS = {suffix: label for suffix, label, *_ in METHODS}
RATIO10_METHODS = ("ce", "weighted", "ohem", "balanced")


def name_of(arch: str, ratio: int, suffix: str) -> str:
    return f"lt{ratio}_{'resnet_' if arch == 'resnet18' else ''}{suffix}"


def lt(name, ratio, description, task, model=ENCODER, train=VIT_TRAIN, augment="mild", sampling="uniform",
       smoke=SMOKE):
    EXPERIMENTS.append(Experiment(
        name=name, chapter=CHAPTER, description=f"{description} (long-tailed, ratio {ratio})",
        base=dict(model=model, data=dict(dataset="cifar10", imbalance=ratio, augment=AUGMENT[augment],
                                         sampling=sampling),
                  train=train, task=task),
        smoke=smoke))


def method(arch: str, ratio: int, suffix: str) -> None:
    _, label, task, augment, sampling = next(m for m in METHODS if m[0] == suffix)
    vit = arch == "vit"
    lt(name_of(arch, ratio, suffix), ratio, f"{'ViT' if vit else 'ResNet-18'}, {label}", task,
       model=ENCODER if vit else RESNET, train=VIT_TRAIN if vit else RESNET_TRAIN,
       augment=augment, sampling=sampling, smoke=SMOKE if vit else RESNET_SMOKE)


# Ratio 100, the main comparison: the ViT first (the chapter's subject), then ResNet-18. A
# pre-training comes before the runs that start from it (the suite runs in registration order).
for suffix, *_ in METHODS:
    method("vit", 100, suffix)
lt("lt100_mae_pretrain", 100, "MAE pre-training of the ViT encoder on the long-tailed images, no labels",
   dict(name="mae_pretrain", mask_ratio=0.75, decoder_dim=128, decoder_depth=2, decoder_heads=4),
   train=MAE_TRAIN, smoke=deep_merge(SMOKE, dict(task=dict(decoder_dim=32, decoder_depth=1, decoder_heads=2))))
lt("lt100_mae_ft", 100, "ViT fine-tuned from lt100_mae_pretrain, encoder at 1/100 of the lr",
   dict(name="finetune_from", experiment="lt100_mae_pretrain", encoder_lr_scale=0.01, per_class=True))
lt("lt100_mae_ft_fulllr", 100, "ViT fine-tuned from lt100_mae_pretrain, encoder at the full lr",
   dict(name="finetune_from", experiment="lt100_mae_pretrain", per_class=True))
for suffix, *_ in METHODS:
    method("resnet18", 100, suffix)
lt("lt100_resnet_rot_pretrain", 100, "rotation-prediction pre-training of ResNet-18 on the long-tailed images, "
   "no labels", dict(name="rotation_pretrain"), model=RESNET, train=RESNET_TRAIN, smoke=RESNET_SMOKE)
lt("lt100_resnet_rot_ft", 100, "ResNet-18 fine-tuned from lt100_resnet_rot_pretrain",
   dict(name="finetune_from", experiment="lt100_resnet_rot_pretrain", per_class=True),
   model=RESNET, train=RESNET_TRAIN, smoke=RESNET_SMOKE)

# Ratio 10: does the ranking of the losses and of the sampling hold when the tail is less extreme?
for suffix in RATIO10_METHODS:
    method("vit", 10, suffix)
