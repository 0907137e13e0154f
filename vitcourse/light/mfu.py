"""Model FLOPs utilisation (MFU): how much of a GPU's peak a training run uses (FLOPs are counted
by `vitcourse.models.flops`).

MFU (Chowdhery et al., PaLM, 2022; JMLR 2023) = achieved FLOP/s / the hardware's peak FLOP/s, where achieved
FLOP/s = FLOPs per image x images/s, and training costs about 3x the forward FLOPs (the backward
pass computes gradients for activations and for weights, each about as costly as the forward).
"""

from __future__ import annotations

# Dense peak TFLOP/s from NVIDIA's data sheets (no structured sparsity). "fp32" is the plain
# FP32 rate: PyTorch does not use TF32 tensor cores for matmuls unless asked to.
PEAK_TFLOPS = {
    "H100 PCIe": {"bf16": 756.0, "fp32": 51.0},
    "H100": {"bf16": 989.4, "fp32": 66.9},   # SXM (e.g. "NVIDIA H100 80GB HBM3")
    "H200": {"bf16": 989.4, "fp32": 66.9},
    "A100": {"bf16": 312.0, "fp32": 19.5},
}


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
