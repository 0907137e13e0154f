"""Part III, chapter 5: when classes are imbalanced.

Long-tailed CIFAR-10 training sets (class i keeps 5000 * ratio^(-i/9) images: ratio 100 gives
5000 ... 50, 12,406 images; ratio 10 gives 5000 ... 500, 20,431), always tested on the balanced
10,000-image test set. Every run saves its test confusion matrix (per_class.npz) for the
per-class figures. The methods, one knob at a time against plain cross-entropy with mild
augmentation (4 px pad-and-crop + horizontal flip):
  class-weighted cross-entropy (w_c ~ N / N_c), online hard example mining (top 50% of losses),
  strong augmentation (TrivialAugment: colour and geometric ops), and self-supervised (MAE)
  pre-training on the imbalanced images themselves, then fine-tuning with the encoder at 1/100
  of the learning rate (the source write-up's recipe) or at the full rate.
ResNet-18 gets the plain and the class-weighted loss as the CNN reference.
"""

from __future__ import annotations

from .. import tasks_transfer  # noqa: F401  (registers the tasks these experiments use)
from ..registry import register
from ..spec import Experiment
from .part3_transfer import ENCODER, SMOKE_ENCODER

CHAPTER = "Part III: When classes are imbalanced"

VIT_TRAIN = dict(epochs=80, batch_size=256, optimizer="adamw", lr=1e-3, weight_decay=0.05,
                 warmup_epochs=5, label_smoothing=0.0, grad_clip=1.0, amp="bf16")
RESNET_TRAIN = dict(epochs=40, batch_size=128, optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4,
                    warmup_epochs=1, label_smoothing=0.0, grad_clip=None, amp="bf16", channels_last=True)
MAE_TRAIN = dict(VIT_TRAIN, epochs=200, batch_size=512, lr=5e-4, betas=(0.9, 0.95), warmup_epochs=10)
# Smoke: the tiny encoder, 10% of the long-tailed set, one epoch, a balanced 20% of the test set.
SMOKE = dict(model=SMOKE_ENCODER, data=dict(fraction=0.1, test_fraction=0.2),
             train=dict(epochs=1, batch_size=100, warmup_epochs=0.5, log_every=5))
RESNET_SMOKE = dict(data=dict(fraction=0.02, test_fraction=0.05), train=dict(epochs=1, batch_size=50, warmup_epochs=0, log_every=1))


def lt(name, ratio, description, task, model=ENCODER, train=VIT_TRAIN, augment="basic", smoke=SMOKE):
    register(Experiment(
        name=name, chapter=CHAPTER, description=f"{description} (long-tailed, ratio {ratio})",
        base=dict(model=model, data=dict(dataset="cifar10", imbalance=ratio, augment=augment),
                  train=train, task=task),
        smoke=smoke))


# Ratio 100, the main comparison. The pre-training comes before the runs that start from it.
lt("lt100_ce", 100, "ViT, plain cross-entropy, mild augmentation", dict(name="per_class_eval"))
lt("lt100_weighted", 100, "ViT, class-weighted cross-entropy (w ~ N/N_c)", dict(name="class_weighted"))
lt("lt100_ohem", 100, "ViT, online hard example mining (top 50% of losses)", dict(name="ohem", keep=0.5))
lt("lt100_strong_aug", 100, "ViT, plain cross-entropy, strong augmentation (TrivialAugment with colour ops)",
   dict(name="per_class_eval"), augment="trivial")
lt("lt100_mae_pretrain", 100, "MAE pre-training of the ViT encoder on the long-tailed images, no labels",
   dict(name="mae_pretrain", mask_ratio=0.75, decoder_dim=128, decoder_depth=2, decoder_heads=4),
   train=MAE_TRAIN,
   smoke=dict(SMOKE, task=dict(decoder_dim=32, decoder_depth=1, decoder_heads=2)))
lt("lt100_mae_ft", 100, "ViT fine-tuned from lt100_mae_pretrain, encoder at 1/100 of the lr",
   dict(name="finetune_from", experiment="lt100_mae_pretrain", encoder_lr_scale=0.01, per_class=True))
lt("lt100_mae_ft_fulllr", 100, "ViT fine-tuned from lt100_mae_pretrain, encoder at the full lr",
   dict(name="finetune_from", experiment="lt100_mae_pretrain", per_class=True))
lt("lt100_resnet_ce", 100, "ResNet-18, plain cross-entropy", dict(name="per_class_eval"),
   model=dict(arch="resnet18"), train=RESNET_TRAIN, smoke=RESNET_SMOKE)
lt("lt100_resnet_weighted", 100, "ResNet-18, class-weighted cross-entropy", dict(name="class_weighted"),
   model=dict(arch="resnet18"), train=RESNET_TRAIN, smoke=RESNET_SMOKE)

# Ratio 10: does the ranking of the losses hold when the tail is less extreme?
lt("lt10_ce", 10, "ViT, plain cross-entropy, mild augmentation", dict(name="per_class_eval"))
lt("lt10_weighted", 10, "ViT, class-weighted cross-entropy (w ~ N/N_c)", dict(name="class_weighted"))
lt("lt10_ohem", 10, "ViT, online hard example mining (top 50% of losses)", dict(name="ohem", keep=0.5))
