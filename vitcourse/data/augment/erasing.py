"""Random erasing (Zhong et al.), batched: each image may lose one random box.

Runs after normalisation, so a constant fill of 0 is the dataset mean, and ``"pixel"`` mode
fills with standard-normal noise (as timm and DeiT do). Boxes cover 2%-33% of the image with
aspect ratio in [0.3, 3.3], placed uniformly; a box that would not fit is clipped to the image
instead of being redrawn (a data-dependent retry loop would need a GPU sync).
"""

from __future__ import annotations

import math

import torch

from .geometry import box_mask


def sample_erasing(n: int, shape: tuple[int, int, int], probability: float, pixel_noise: bool,
                   generator: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    c, h, w = shape
    area = torch.empty(n, device=device).uniform_(0.02, 1 / 3, generator=generator) * (h * w)
    log_ratio = torch.empty(n, device=device).uniform_(math.log(0.3), math.log(3.3), generator=generator)
    ratio = torch.exp(log_ratio)
    box_h = torch.sqrt(area * ratio).round().clamp(1, h)
    box_w = torch.sqrt(area / ratio).round().clamp(1, w)
    corner = torch.rand(n, 2, generator=generator, device=device)
    params = {
        "apply": torch.rand(n, generator=generator, device=device) < probability,
        "y0": torch.floor(corner[:, 0] * (h - box_h + 1)), "x0": torch.floor(corner[:, 1] * (w - box_w + 1)),
        "h": box_h, "w": box_w,
    }
    if pixel_noise:
        params["noise"] = torch.randn(n, c, h, w, generator=generator, device=device)
    return params


def erase(x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
    n, _, h, w = x.shape
    y0, x0 = params["y0"], params["x0"]
    box = box_mask(h, w, y0, y0 + params["h"], x0, x0 + params["w"]) & params["apply"].view(n, 1, 1)
    fill = params["noise"].to(x.dtype) if "noise" in params else torch.zeros_like(x)
    return torch.where(box.unsqueeze(1), fill, x)
