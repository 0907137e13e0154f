"""Part III, chapter 2: ViT vs ResNet-18 — reproducing the source write-up's table, then beating it.

First the source's own settings (course brief 3a: Adam at a constant 1e-4, batch 256, plain
cross-entropy, no augmentation; /16 and /32 ViTs on images upsampled to 224 px, D=384, depth 12,
6 heads; ResNet-18; the native-32 px "vit4" and "vit2"), so our numbers can stand beside theirs.
With a constant learning rate, the accuracy after k epochs does not depend on how long the run
goes on, so one run fills every column of their table up to its length. Their 20- and 50-epoch
columns would cost more than the Part III budget allows, so every row runs 10 epochs.

Then our recipe: their own vit4 model (p4, D=192, 12 layers) trained with the ladder's rung-6
recipe for the same 10 epochs ("compare_recipe_vit4": same model, only the recipe changes), the
recipe ladder's runs (chapter 1) as further ViT rows, and one ResNet-18 run
with the recipe that suits a CNN (SGD with Nesterov momentum, crop and flip, label smoothing) is
sized to the same GPU time as the ladder's rung 6 -- the equal-wall-clock comparison -- by the
estimate at the rates the first GPU window measured (calibration.json), and checked against the
measured times when both results exist. (Sized by the assumed rates, it had 6 epochs and took a
fifth of rung 6's time on the H100: ResNet-18 runs at about 4x ViT's measured TFLOP/s.)
"""

from __future__ import annotations

from ..experiment import Experiment
from .part3_recipe import BATCH, SMOKE_DATA, SMOKE_RESNET, SMOKE_TRAIN, rung_specs

# This chapter's experiments, in suite order (the catalog lists the chapters in order).
EXPERIMENTS: list[Experiment] = []

CHAPTER = "Part III: ViT vs ResNet-18"
SOURCE_EPOCHS = 10
SAME_TIME_AS = "recipe_6_stochastic_depth"   # the ViT side of the equal-time comparison
RECIPE_VIT4 = "compare_recipe_vit4"    # their vit4 model, our recipe
SAME_TIME_EPOCHS = 27      # rung 6's estimated minutes / ResNet-18's per epoch, at the calibrated
#                            rates (data/results/calibration.json); the tests re-check it

# The source's training setting: Adam (AdamW with no decay), constant lr (min_lr = lr), no
# warm-up, no clipping, no smoothing, no augmentation. bf16 autocast is ours (they did not say).
def source_train(lr: float = 1e-4) -> dict:
    return dict(epochs=SOURCE_EPOCHS, batch_size=BATCH, optimizer="adamw", lr=lr, weight_decay=0.0,
                warmup_epochs=0, min_lr=lr, label_smoothing=0.0, grad_clip=None, amp="bf16",
                compile=True)


NO_AUG = dict(crop=0, flip=False)
UPSAMPLED = dict(crop=0, flip=False, resize=224)   # bicubic upsampling, as a 224-px pipeline does
VIT_S_SHAPE = dict(arch="vit", dim=384, depth=12, heads=6, mlp_ratio=4.0)

# Smoke (see part3_recipe): tiny widths; the 224-px models see 64-px upsampled images in smoke
# (their patch grids shrink to 4x4 and 2x2). Not results.
SMOKE_VIT = dict(model=dict(dim=32, depth=1, heads=2), data=SMOKE_DATA, train=SMOKE_TRAIN)

# (name, label in the chapter's table, key in the source's table, model, augment, lr)
SOURCE_ROWS = [
    ("compare_src_vit_p16_224", "ViT p16 @224", "ViT p16 @224", dict(VIT_S_SHAPE, patch_size=16), UPSAMPLED, 1e-4),
    ("compare_src_vit_p32_224", "ViT p32 @224", "ViT p32 @224", dict(VIT_S_SHAPE, patch_size=32), UPSAMPLED, 1e-4),
    ("compare_src_resnet18", "ResNet-18 (32 px)", "ResNet-18", dict(arch="resnet18", stem="cifar"), NO_AUG, 1e-4),
    ("compare_src_vit4", "vit4 (p4, D=192)", ("vit4", 1e-4),
     dict(arch="vit", patch_size=4, dim=192, depth=12, heads=6, mlp_ratio=4.0), NO_AUG, 1e-4),
    ("compare_src_vit2", "vit2 (p2, D=96)", ("vit2", 5e-4),
     dict(arch="vit", patch_size=2, dim=96, depth=12, heads=6, mlp_ratio=4.0), NO_AUG, 5e-4),
]

# ResNet-18's own recipe: SGD 0.1 at batch 128 scaled linearly, weight decay 5e-4, crop + flip.
RESNET_RECIPE = dict(
    model=dict(arch="resnet18", stem="cifar"),
    data=dict(dataset="cifar10", fraction=1.0, augment=dict(crop=4, flip=True)),
    train=dict(epochs=SAME_TIME_EPOCHS, batch_size=BATCH, optimizer="sgd", lr=0.1 * BATCH / 128,
               momentum=0.9, nesterov=True, weight_decay=5e-4, warmup_epochs=1, min_lr=0.0,
               label_smoothing=0.1, grad_clip=None, amp="bf16", channels_last=True),
)


def _register() -> None:
    for name, label, _, model, augment, lr in SOURCE_ROWS:
        resnet = model["arch"] == "resnet18"
        smoke = SMOKE_RESNET if resnet else SMOKE_VIT
        if augment.get("resize"):
            smoke = dict(smoke, data=dict(SMOKE_DATA, augment=dict(augment, resize=64)))
        train = source_train(lr)
        if resnet:
            train["channels_last"] = True
        EXPERIMENTS.append(Experiment(
            name=name, chapter=CHAPTER,
            description=f"{label} in the source write-up's setting (Adam {lr:g} constant, batch {BATCH}, "
                        f"no augmentation, {SOURCE_EPOCHS} epochs)",
            base=dict(model=model, data=dict(dataset="cifar10", fraction=1.0, augment=augment), train=train),
            smoke=smoke, full={}))
    # Their vit4 with our recipe: rung 6's data and training settings (and its stochastic depth).
    rung6 = next(spec for name, _, _, spec in rung_specs() if name == SAME_TIME_AS)
    vit4 = next(model for name, *_, model, _, _ in SOURCE_ROWS if name == "compare_src_vit4")
    EXPERIMENTS.append(Experiment(
        name=RECIPE_VIT4, chapter=CHAPTER,
        description=f"vit4 (the source's p4, D=192, 12-layer model) with our recipe (rung 6: AdamW, "
                    f"warm-up + cosine, RandAugment, Mixup/CutMix, smoothing, stochastic depth), "
                    f"{rung6['train']['epochs']} epochs",
        base=dict(model=dict(vit4, drop_path=rung6["model"]["drop_path"]), data=rung6["data"],
                  train=rung6["train"]),
        smoke=SMOKE_VIT, full={}))
    EXPERIMENTS.append(Experiment(
        name="compare_same_time_resnet18", chapter=CHAPTER,
        description=f"ResNet-18 with a CNN recipe (SGD, crop+flip, smoothing), {SAME_TIME_EPOCHS} epochs: "
                    f"the estimated GPU time of {SAME_TIME_AS}",
        base=RESNET_RECIPE, smoke=SMOKE_RESNET, full={}))


_register()
