"""Batched colour operations on float images in [0, 1], one strength per sample.

They follow PIL's ImageEnhance/ImageOps definitions (what AutoAugment-family policies were
designed with): each "enhance" op blends the image with a degenerate version of itself by a
factor (1 = unchanged). Per-sample parameters are ``N``-vectors; outputs are clamped to [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_LUMA = (0.299, 0.587, 0.114)  # PIL's RGB -> L weights


def _per_sample(v: torch.Tensor) -> torch.Tensor:
    return v.view(-1, 1, 1, 1)


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """``N x 1 x H x W`` luminance (single-channel images pass through)."""
    if x.shape[1] == 1:
        return x
    # Scalar weights, not a weight tensor: that would be a host-to-GPU copy on every call.
    return x[:, 0:1] * _LUMA[0] + x[:, 1:2] * _LUMA[1] + x[:, 2:3] * _LUMA[2]


def blend(degenerate: torch.Tensor, x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """PIL's enhance: ``degenerate + factor * (x - degenerate)``, clamped."""
    return (degenerate + _per_sample(factor) * (x - degenerate)).clamp_(0, 1)


def brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (x * _per_sample(factor)).clamp_(0, 1)


def saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """PIL's ``Color``: blend with the grey image."""
    return blend(grayscale(x), x, factor)


def contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the image's mean grey level."""
    return blend(grayscale(x).mean((1, 2, 3), keepdim=True), x, factor)


def jitter(x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Colour jitter with per-sample ``N x 3`` factors: brightness, contrast, saturation.

    Always in that order; torchvision's ColorJitter shuffles the order per call (and adds hue),
    which we skip for simplicity. A factor of 1 leaves the image unchanged.
    """
    x = brightness(x, factors[:, 0])
    x = contrast(x, factors[:, 1])
    return saturation(x, factors[:, 2])


def sample_jitter(n: int, strength: float, generator: torch.Generator | None,
                  device: torch.device) -> torch.Tensor:
    """``N x 3`` jitter factors drawn uniformly in [1 - strength, 1 + strength]."""
    u = torch.rand(n, 3, generator=generator, device=device)
    return 1 + strength * (2 * u - 1)


def sharpness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with PIL's SMOOTH-filtered image (borders untouched, as in PIL)."""
    # SMOOTH is [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13: a 3x3 box sum plus 4x the centre.
    # avg_pool2d computes the box sum far faster than a grouped conv2d on CPU.
    smooth = x.clone()
    box = F.avg_pool2d(x, 3, stride=1) * 9
    smooth[..., 1:-1, 1:-1] = (box + 4 * x[..., 1:-1, 1:-1]) / 13
    return blend(smooth, x, factor)


def posterize(x: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Keep the top ``bits`` (1-8) bits of each 8-bit value."""
    step = _per_sample(2.0 ** (8 - bits.to(x.dtype)))
    return torch.floor(torch.round(x * 255) / step) * step / 255


def solarize(x: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """Invert values above ``threshold`` (1 = no change, 0 = invert all but pure black)."""
    return torch.where(x > _per_sample(threshold), 1 - x, x)


def autocontrast(x: torch.Tensor) -> torch.Tensor:
    """Stretch each channel of each image to span [0, 1]; flat channels are left alone."""
    lo = x.amin((2, 3), keepdim=True)
    hi = x.amax((2, 3), keepdim=True)
    span = hi - lo
    flat = span <= 0
    scale = torch.where(flat, torch.ones_like(span), 1 / span.clamp_min(1e-12))
    return torch.where(flat, x, (x - lo) * scale).clamp_(0, 1)


def equalize(x: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation per channel of each image, PIL's algorithm, without loops.

    The histogram of each (image, channel) is a scatter-add into 256 bins; the lookup table
    spreads the cumulative counts (minus the top bin, as PIL does) over 0-255.
    """
    n, c, h, w = x.shape
    levels = torch.round(x * 255).long().view(n, c, h * w)
    hist = torch.zeros(n, c, 256, device=x.device, dtype=torch.long)
    hist.scatter_add_(2, levels, torch.ones_like(levels))
    top = levels.amax(2, keepdim=True)
    step = (h * w - hist.gather(2, top)) // 255                  # n x c x 1
    cum = hist.cumsum(2) - hist                                   # counts strictly below each level
    lut = ((cum + step // 2) // step.clamp_min(1)).clamp_(0, 255)
    out = lut.gather(2, levels).to(x.dtype) / 255
    # step == 0 (one or two distinct levels): PIL leaves the channel unchanged.
    return torch.where(step.view(n, c, 1) > 0, out, x.view(n, c, h * w)).view(n, c, h, w)
