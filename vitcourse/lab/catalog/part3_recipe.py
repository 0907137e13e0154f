"""Part III, chapter 1: a recipe that makes ViT work from scratch — the recipe ladder.

One plain ViT (the paper's patch embedding, no convolutional stem) climbs from the source
write-ups' setting (Adam at a constant 1e-4, no augmentation, no regularisation) to a full
from-scratch recipe, one ingredient per rung. Every rung differs from the one below it in
exactly the keys its ingredient names (a test checks this), so each bar of the chapter's chart
measures one ingredient.

The last rung ("+ longer training") is the course's headline run: a plain ViT of 4.8M parameters
(<= 10M), aiming at >= 93% CIFAR-10 test accuracy in <= 8 measured minutes on one H100,
compilation and data loading included, so that it fits one 9.5-minute GPU command with its
safety margin. Its epoch count comes from the estimate in `budget` (see `FINAL_PLAN_MINUTES`)
at the rates the first GPU window measured: 180 epochs at the assumed 60 TFLOP/s, but this model
ran at about 16.6 (eager, two runs sharing the H100; small matrices leave it launch-bound), so the
plan is 50 epochs until a window measures the compiled rate of this run alone; then re-plan.
Expected at 50 epochs: well short of 93% (the 10-epoch rungs reach 49-66%). Published anchors for
plain ViTs trained from scratch on CIFAR-10: 93.58% (Lee et al.'s ViT baseline, D=192, depth 9,
100 epochs with 3x repeated augmentation, random erasing and EMA-free AdamW, best epoch) and
90.92% (omihub777/ViT-CIFAR, 200 epochs). Of those recipes' extras this rung takes the longer
warm-up (a tenth of the run). Repeated augmentation (the loader's sampling="repeated") and
random erasing (AugmentConfig.erasing) are in the course but not in this rung: they change the
recipe, so they wait until a window has measured the long rung and its epochs are planned for
real. An EMA of the weights (TrainConfig.weight_average) is: it changes nothing that is trained,
and the run log gives its test accuracy beside the trained weights'. It
is registered first: it needs a GPU job of its own, and it is the plot the chapter exists for.
The other rungs are short (10 epochs) so that the ladder fits the Part III GPU budget.
"""

from __future__ import annotations

from ..experiment import Experiment, deep_merge

# This chapter's experiments, in suite order (the catalog lists the chapters in order).
EXPERIMENTS: list[Experiment] = []

CHAPTER = "Part III: A recipe that makes ViT work from scratch"

# Small models suit 50,000 images (anchors: D 192-384, depth 6-9, patch 4 -> 64 tokens at 32 px).
# MLP ratio 2 spends the parameters on depth rather than on wide MLPs, as the strong CIFAR ViTs do.
MODEL = dict(arch="vit", patch_size=4, dim=256, depth=9, heads=8, mlp_ratio=2.0)
BATCH = 256                      # the source write-up's batch; kept on every rung
LR = round(1e-3 * (BATCH / 128) ** 0.5, 5)   # 1e-3 at batch 128 (anchors), square-root scaled
SHORT_EPOCHS = 10                # rungs 0-6: the source's "10 epochs" column
FINAL_PLAN_MINUTES = 7.0         # rung 7 trains as many epochs as fit in this time budget, compilation
#                                  and test passes included (vitcourse.train.time_budget); with the
#                                  window's checks and its allowance for overrun it fits one command
FINAL_MAX_EPOCHS = 300           # ... and at most DeiT's 300
FINAL_WARMUP_EPOCHS = 10         # Lee et al.'s warm-up; it also covers the budget's 3-epoch probe
FINAL_EVAL_EVERY = 10            # a test pass every 10 epochs and after the last
FINAL_WEIGHT_AVERAGE = 0.999     # an EMA of the weights over ~1,000 steps (about 5 epochs), tested
#                                  beside them; it does not change what is trained

# Rung 0: the source setting. Adam = AdamW without weight decay; min_lr = lr makes the cosine
# schedule a constant learning rate; no warm-up, no clipping, no augmentation, hard labels.
SOURCE_SETTING = dict(
    model=MODEL,
    data=dict(dataset="cifar10", fraction=1.0, augment=dict(crop=0, flip=False)),
    train=dict(epochs=SHORT_EPOCHS, batch_size=BATCH, optimizer="adamw", lr=1e-4, weight_decay=0.0,
               warmup_epochs=0, min_lr=1e-4, label_smoothing=0.0, grad_clip=None, amp="bf16"),
)
# How a run executes, not what it computes: not an ingredient. Only the long final rung is worth
# torch.compile's start-up cost (about half a minute); the 10-epoch rungs run eagerly.
EXECUTION_KEYS = frozenset({"compile", "log_every", "eval_every"})

# (experiment name, ingredient, what changes relative to the rung below)
LADDER = [
    ("recipe_0_source", "source setting: Adam 1e-4, no augmentation", {}),
    ("recipe_1_adamw_cosine", "+ AdamW, warm-up, cosine",
     dict(train=dict(lr=LR, weight_decay=0.05, warmup_epochs=1, min_lr=1e-5, grad_clip=1.0))),
    ("recipe_2_crop_flip", "+ random crop and flip", dict(data=dict(augment=dict(crop=4, flip=True)))),
    ("recipe_3_randaugment", "+ RandAugment (2 ops, magnitude 9)",
     dict(data=dict(augment=dict(policy="randaug", randaug_n=2, randaug_m=9)))),
    ("recipe_4_mixup_cutmix", "+ Mixup / CutMix", dict(data=dict(augment=dict(mixup=0.8, cutmix=1.0)))),
    ("recipe_5_label_smoothing", "+ label smoothing 0.1", dict(train=dict(label_smoothing=0.1))),
    ("recipe_6_stochastic_depth", "+ stochastic depth 0.1", dict(model=dict(drop_path=0.1))),
    ("recipe_7_long", f"+ longer training ({FINAL_PLAN_MINUTES:g} minutes)",
     dict(train=dict(epochs=FINAL_MAX_EPOCHS, time_budget_min=FINAL_PLAN_MINUTES,
                     warmup_epochs=FINAL_WARMUP_EPOCHS, compile=True, eval_every=FINAL_EVAL_EVERY,
                     weight_average=FINAL_WEIGHT_AVERAGE))),
]
FINAL = LADDER[-1][0]

# Smoke profiles of all Part III chapters: 1,000 training and 1,000 test images (balanced), 2
# epochs, tiny models, on a CPU in seconds. They prove the plumbing; they are not results.
SMOKE_DATA = dict(fraction=0.02, test_fraction=0.1)
SMOKE_TRAIN = dict(epochs=2, batch_size=50, compile=False, log_every=5)
SMOKE_RESNET = dict(model=dict(width=4), data=SMOKE_DATA, train=SMOKE_TRAIN)   # 1/16 of the channels
# The ladder in smoke: a 1-layer D=32 ViT; the "longer" rung gets a minute for at most 4 epochs
# (3 of them its probe), so its time budget runs end to end in seconds.
SMOKE = dict(model=dict(dim=32, depth=1, heads=2), data=SMOKE_DATA, train=SMOKE_TRAIN)
SMOKE_FINAL = deep_merge(SMOKE, dict(train=dict(epochs=4, warmup_epochs=3, time_budget_min=1.0)))


def rung_specs() -> list[tuple[str, str, dict, dict]]:
    """(name, ingredient, change, full base spec) for every rung, each built on the one below."""
    spec, out = SOURCE_SETTING, []
    for name, ingredient, change in LADDER:
        spec = deep_merge(spec, change)
        out.append((name, ingredient, change, spec))
    return out


def _register_ladder() -> None:
    rungs = rung_specs()
    # The final rung first (a GPU job of its own, the chapter's headline), then the ladder in order.
    for name, ingredient, _, spec in rungs[-1:] + rungs[:-1]:
        final = name == FINAL
        EXPERIMENTS.append(Experiment(
            name=name, chapter=CHAPTER,
            description=f"recipe ladder rung {name.split('_')[1]}: {ingredient} "
                        f"(ViT p4, D=256, depth 9, {'at most ' if final else ''}"
                        f"{spec['train']['epochs']} epochs)",
            base=spec, smoke=SMOKE_FINAL if final else SMOKE, full={},
            seeds={"smoke": (0,), "full": (0,)}, whole_job=final))


_register_ladder()
