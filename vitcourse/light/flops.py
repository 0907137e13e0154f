"""FLOPs of a forward pass, counted from the module itself, and model FLOPs utilisation (MFU).

Counting convention (as in vitcourse.experiments.budget): 2 FLOPs per multiply-add, matrix
products only (LayerNorm, softmax, GELU and additions are a few percent at these sizes). Reading
the structure from the module means a pruned model (fewer heads in some layers) or a ViT with a
distillation token is counted as it really is; for a plain ViT the count equals budget's formula.

MFU (Chowdhery et al., PaLM, 2022; JMLR 2023) = achieved FLOP/s / the hardware's peak FLOP/s, where achieved
FLOP/s = FLOPs per image x images/s, and training costs about 3x the forward FLOPs (the backward
pass computes gradients for activations and for weights, each about as costly as the forward).
"""

from __future__ import annotations

from vitcourse.experiments.budget import resnet18_forward_flops

# Dense peak TFLOP/s from NVIDIA's data sheets (no structured sparsity). "fp32" is the plain
# FP32 rate: PyTorch does not use TF32 tensor cores for matmuls unless asked to.
PEAK_TFLOPS = {
    "H100 PCIe": {"bf16": 756.0, "fp32": 51.0},
    "H100": {"bf16": 989.4, "fp32": 66.9},   # SXM (e.g. "NVIDIA H100 80GB HBM3")
    "H200": {"bf16": 989.4, "fp32": 66.9},
    "A100": {"bf16": 312.0, "fp32": 19.5},
}


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


def peak_flops(device_name: str, dtype: str) -> float | None:
    """Peak FLOP/s of a known GPU for dtype 'bf16' or 'fp32'; None when we do not know it (e.g. CPUs)."""
    for key, peaks in PEAK_TFLOPS.items():  # ordered: "H100 PCIe" is tried before "H100"
        if all(part in device_name for part in key.split()):
            return peaks.get(dtype, 0.0) * 1e12 or None
    return None


def mfu(images_per_s: float, forward_flops: float, peak: float | None, training: bool = True) -> float | None:
    """Model FLOPs utilisation in [0, 1]; None without a known peak."""
    if not peak:
        return None
    return (3.0 if training else 1.0) * forward_flops * images_per_s / peak
