"""Estimated GPU-minutes of a full-profile experiment, so chapters can keep the suite in budget.

Training costs about 3x the forward FLOPs (forward + backward) per image seen. The sustained rate
is an assumption until `python -m vitcourse bench` has measured the GPU: small models at 32 px are
far from peak, so we assume 60 TFLOP/s in bf16 on an H100 (about 6% of its dense peak), plus a
fixed overhead per run for compilation, data loading and evaluation.
"""

from __future__ import annotations

ASSUMED_TFLOPS = 60.0
OVERHEAD_MIN_PER_RUN = 0.5
CIFAR10_TRAIN = 50_000


def vit_forward_flops(image_size: int, patch_size: int, dim: int, depth: int, mlp_ratio: float = 4.0,
                      num_classes: int = 10, channels: int = 3, class_token: bool = True, **_) -> float:
    """FLOPs (2 per multiply-add) of one image's forward pass."""
    n = (image_size // patch_size) ** 2 + int(class_token)
    hidden = int(dim * mlp_ratio)
    per_layer = n * (4 * dim * dim + 2 * dim * hidden) + 2 * n * n * dim   # projections + MLP + attention
    embed = (n - int(class_token)) * patch_size * patch_size * channels * dim
    return 2.0 * (depth * per_layer + embed + dim * num_classes)


def resnet18_forward_flops(image_size: int, stem: str = "cifar", width: int = 64, **_) -> float:
    # Measured multiply-adds of the two stems at their native sizes, scaled with the pixel count
    # (and with the square of the channel width, for the narrow smoke-test variants).
    macs = {"cifar": 0.556e9 * (image_size / 32) ** 2, "imagenet": 1.82e9 * (image_size / 224) ** 2}[stem]
    return 2.0 * macs * (width / 64) ** 2


def forward_flops(model: dict, image_size: int, num_classes: int = 10) -> float:
    spec = {k: v for k, v in model.items() if k != "arch"}
    if model["arch"] == "vit":
        spec.setdefault("class_token", spec.get("pool", "cls") == "cls")
        return vit_forward_flops(image_size=image_size, num_classes=num_classes, **spec)
    return resnet18_forward_flops(image_size=image_size, **spec)


def estimate_gpu_minutes(spec: dict, seeds: int = 1, train_size: int = CIFAR10_TRAIN,
                         image_size: int = 32) -> float:
    """Minutes on one H100 for all seeds of a resolved full profile {"model", "data", "train"}."""
    from .runner import input_size

    data = spec["data"]
    size = input_size(data, image_size)
    per_epoch = train_size
    if "imbalance" in data:  # a long-tailed set is much smaller than the full one (12,406 at ratio 100)
        from vitcourse.data import long_tailed_counts

        per_epoch = sum(long_tailed_counts(train_size // 10, 10, data["imbalance"]))
    images = per_epoch * data.get("fraction", 1.0) * spec["train"]["epochs"]
    seconds = 3 * forward_flops(spec["model"], size) * images / (ASSUMED_TFLOPS * 1e12)
    return seeds * (seconds / 60 + OVERHEAD_MIN_PER_RUN)


def experiment_gpu_minutes(exp) -> float:
    return estimate_gpu_minutes(exp.profile("full"), seeds=len(exp.seeds_for("full")))
