"""Part III, chapter 3: how much data does ViT need, and what each design choice buys.

Data scale: ViT and ResNet-18 on balanced 5-100% subsets of the CIFAR-10 training set, with the
same augmentation, label smoothing and schedule shape, and the same number of training images
seen (an "epochs-equivalent" budget: 5% of the data for 120 epochs = 100% for 6). The subsets
are nested (the 5% subset lies inside the 10% one, and so on), so the curve compares growing
datasets rather than unrelated draws.

Ablations: one knob at a time away from a fixed small baseline — the source write-up's default
(course brief 3b: patch 4, D=256, 4 heads, 6 layers, MLP 512, dropout 0.1), trained with our
short recipe — each with two seeds. The baseline at 100% is also the data-scale curve's ViT point.

Budget. The whole grid the chapter asks for is registered: patch size 2/4/8/16, width
64/128/256/512, heads 1/2/4/8/16, depth 3/6/12, class token vs global average pooling each at two
learning rates (the paper's caveat: each pooling needs its own), position embedding none / learned
1-D / learned 2-D / sincos 2-D, LayerNorm vs BatchNorm, pre- vs post-norm -- 20 settings and the
baseline, two seeds each, 6 epochs (at 100% of the data) per run. `ABLATIONS` is in priority
order (the settings that test a claim of the source write-up or of the paper first), so an
interrupted suite has the most telling bars first. The tests check that chapters 1-3 stay within
30 estimated H100-minutes (the recipe's final rung excluded).
"""

from __future__ import annotations

from ..experiment import Experiment, deep_merge
from .part3_compare import BATCH, RESNET_RECIPE
from .part3_recipe import LR, SMOKE_DATA, SMOKE_RESNET, SMOKE_TRAIN

# This chapter's experiments, in suite order (the catalog lists the chapters in order).
EXPERIMENTS: list[Experiment] = []

CHAPTER = "Part III: How much data does ViT need? and ablations"
EPOCHS = 6                         # epochs at 100% of the data; smaller subsets run 1/fraction longer
FRACTIONS = (0.05, 0.1, 0.25, 0.5, 1.0)
SEEDS = {"smoke": (0,), "full": (0, 1)}

BASELINE = dict(
    model=dict(arch="vit", patch_size=4, dim=256, depth=6, heads=4, mlp_ratio=2.0, dropout=0.1),
    data=dict(dataset="cifar10", fraction=1.0, augment=dict(crop=4, flip=True)),
    train=dict(epochs=EPOCHS, batch_size=BATCH, optimizer="adamw", lr=LR, weight_decay=0.05,
               warmup_epochs=1, min_lr=1e-5, label_smoothing=0.1, grad_clip=1.0, amp="bf16"),
)
# Smoke (see part3_recipe): a D=32, 2-layer ViT. Smoke data-scale runs keep 2% of each subset
# and 2 epochs at every fraction: plumbing, not results.
SMOKE = dict(model=dict(dim=32, depth=2, heads=2), data=SMOKE_DATA, train=SMOKE_TRAIN)

# (name, knob, setting label, full-profile change, smoke change or None for the same change)
# Smoke models are D=32 wide, so the width knob is scaled by 1/8 there.
ABLATIONS = [
    ("abl_patch16", "patch size", "16", dict(model=dict(patch_size=16)), None),
    ("abl_heads8", "heads", "8", dict(model=dict(heads=8)), None),
    ("abl_pos_none", "position embedding", "none", dict(model=dict(pos_embed="none")), None),
    ("abl_gap", "pooling @ lr", f"gap @ {LR:g}", dict(model=dict(pool="gap")), None),
    ("abl_gap_lr_low", "pooling @ lr", f"gap @ {LR / 3:.2g}",
     dict(model=dict(pool="gap"), train=dict(lr=round(LR / 3, 6))), None),
    ("abl_cls_lr_low", "pooling @ lr", f"cls @ {LR / 3:.2g}", dict(train=dict(lr=round(LR / 3, 6))), None),
    ("abl_batchnorm", "norm", "BatchNorm", dict(model=dict(norm="batch")), None),
    ("abl_postnorm", "norm placement", "post-norm", dict(model=dict(prenorm=False)), None),
    ("abl_patch8", "patch size", "8", dict(model=dict(patch_size=8)), None),
    ("abl_patch2", "patch size", "2", dict(model=dict(patch_size=2)), None),
    ("abl_heads1", "heads", "1", dict(model=dict(heads=1)), None),
    ("abl_heads2", "heads", "2", dict(model=dict(heads=2)), None),
    ("abl_heads16", "heads", "16", dict(model=dict(heads=16)), None),
    ("abl_width64", "width", "64", dict(model=dict(dim=64)), dict(model=dict(dim=8))),
    ("abl_width128", "width", "128", dict(model=dict(dim=128)), dict(model=dict(dim=16))),
    ("abl_width512", "width", "512", dict(model=dict(dim=512)), dict(model=dict(dim=64))),
    ("abl_pos_2d", "position embedding", "learned 2-D", dict(model=dict(pos_embed="learned2d")), None),
    ("abl_pos_sincos", "position embedding", "sincos 2-D", dict(model=dict(pos_embed="sincos2d")), None),
    ("abl_depth3", "depth", "3", dict(model=dict(depth=3)), dict(model=dict(depth=1))),
    ("abl_depth12", "depth", "12", dict(model=dict(depth=12)), dict(model=dict(depth=4))),
]
# The baseline's own setting label on each knob's axis.
BASELINE_SETTINGS = {"patch size": "4", "width": "256", "heads": "4", "depth": "6",
                     "pooling @ lr": f"cls @ {LR:g}", "position embedding": "learned 1-D",
                     "norm": "LayerNorm", "norm placement": "pre-norm"}


def data_name(arch: str, fraction: float) -> str:
    """The experiment of one data-scale point; ViT's 100% point is the ablation baseline."""
    if fraction == 1.0 and arch == "vit":
        return "abl_base"
    return f"data_{arch}_{round(100 * fraction)}pct"


def _scaled(fraction: float) -> dict:
    """Same images seen at every fraction: epochs and warm-up grow as the subset shrinks."""
    return dict(data=dict(fraction=fraction),
                train=dict(epochs=round(EPOCHS / fraction), warmup_epochs=round(1 / fraction)))


def knob_grid() -> dict[str, list[tuple[str, str]]]:
    """knob -> [(setting label, experiment name)] over the ablations, baseline included."""
    grid: dict[str, list[tuple[str, str]]] = {}
    for name, knob, label, _, _ in ABLATIONS:
        grid.setdefault(knob, [(BASELINE_SETTINGS[knob], "abl_base")]).append((label, name))
    for knob, settings in grid.items():  # numeric knobs read left to right: 2, 4, 8, 16
        if all(label.isdigit() for label, _ in settings):
            settings.sort(key=lambda setting: int(setting[0]))
    return grid


def _register() -> None:
    # The baseline first (it serves both figures), then the data-scale points, then the ablations
    # in priority order.
    EXPERIMENTS.append(Experiment(
        name="abl_base", chapter=CHAPTER,
        description="ablation baseline = data-scale ViT at 100%: p4, D=256, 4 heads, 6 layers, MLP 512, "
                    f"dropout 0.1, crop+flip, smoothing, {EPOCHS} epochs",
        base=BASELINE, smoke=SMOKE, full={}, seeds=SEEDS))
    for fraction in FRACTIONS:
        for arch, base, smoke in (("vit", BASELINE, SMOKE), ("resnet18", RESNET_RECIPE, SMOKE_RESNET)):
            name = data_name(arch, fraction)
            if name == "abl_base":   # registered above
                continue
            spec = deep_merge(base, _scaled(fraction))
            smoke_scaled = dict(data=dict(fraction=round(0.02 * fraction, 4)),
                                train=dict(epochs=2, warmup_epochs=1))
            EXPERIMENTS.append(Experiment(
                name=name, chapter=CHAPTER,
                description=f"data scale: {arch} on {fraction:.0%} of CIFAR-10 for {spec['train']['epochs']} "
                            f"epochs ({EPOCHS} at 100%)",
                base=spec, smoke=deep_merge(smoke, smoke_scaled),
                # Small subsets train for many epochs: six test passes and the last are enough on a
                # GPU (every epoch, 10,000 test images would cost more than 2,500 training images).
                full=dict(train=dict(eval_every=max(1, spec["train"]["epochs"] // 6)))))
    for name, *_ in ABLATIONS:
        EXPERIMENTS.append(_ablation(name))


def _ablation(name: str) -> Experiment:
    _, knob, label, change, smoke_change = next(a for a in ABLATIONS if a[0] == name)
    return Experiment(
        name=name, chapter=CHAPTER, description=f"ablation, {knob}: {label} (baseline otherwise)",
        base=deep_merge(BASELINE, change),
        smoke=deep_merge(SMOKE, smoke_change if smoke_change is not None else change),
        full={}, seeds=SEEDS)


_register()
