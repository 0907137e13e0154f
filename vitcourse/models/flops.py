"""FLOPs of one image's forward pass: the one counter of the course (budgets, MFU, Part III's table).

Convention: 2 FLOPs per multiply-add, matrix products only (LayerNorm, softmax, GELU and
additions are a few percent at these sizes). Two entry points, one count:
* `forward_flops(model_spec, image_size)` from an experiment's model dict, before anything is
  built (the GPU-time budget);
* `model_flops(module)` read from a built module, so a pruned model (fewer heads in some layers)
  or a ViT with a distillation token is counted as it really is. For a plain ViT both agree
  (a test checks it).
"""

from __future__ import annotations


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


def vit_flops(model) -> float:
    """Forward FLOPs of one image through a vitcourse ViT (or subclass), read from its modules."""
    n_patch = model.grid[0] * model.grid[1]
    n = n_patch + model.num_prefix
    p, c = model.patch_size, model.in_channels
    dim = model.config["dim"]
    macs = n_patch * p * p * c * dim                      # patch embedding
    for block in model.blocks:
        inner = block.attn.heads * block.attn.head_dim    # smaller after head pruning
        hidden = block.mlp.fc1.out_features
        macs += n * 4 * dim * inner                       # U_qkv (3) and U_msa (1)
        macs += 2 * n * n * inner                         # q k^T and A v
        macs += 2 * n * dim * hidden                      # the MLP's two layers
    for name in ("head", "head_dist"):
        head = getattr(model, name, None)
        if head is not None and hasattr(head, "in_features"):
            macs += head.in_features * head.out_features
    if getattr(model.pre_logits, "__len__", None):        # the optional tanh pre-logits layer
        macs += dim * dim
    return 2.0 * macs


def model_flops(model, image_size: int = 32) -> float:
    """Forward FLOPs per image of a ViT or a ResNet-18 (CIFAR or ImageNet stem)."""
    if hasattr(model, "blocks") and hasattr(model, "grid"):
        return vit_flops(model)
    config = getattr(model, "config", {})
    if "stem" not in config:
        raise TypeError(f"cannot count FLOPs of {type(model).__name__}: expected a vitcourse ViT or ResNet")
    return resnet18_forward_flops(image_size, stem=config["stem"], width=config.get("width", 64))
