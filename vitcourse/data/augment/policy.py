"""TrivialAugment- and RandAugment-style policies, batched: each image draws its own op and strength.

Rather than grouping images by op (which needs the op counts on the host, a GPU sync), every
colour op is computed for the whole batch and each image keeps the result of the op it drew;
all geometric ops share one affine warp. At 32 x 32 this redundancy costs far less than a sync.

Strength ``s`` in [0, 1] scales each op up to its range's maximum; signed ops (rotate, shear,
translate, the enhance factors) also draw a direction. Ranges: ``"trivial"`` uses the wide
ranges of TrivialAugment-Wide, ``"randaug"`` the standard RandAugment ones (timm's).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import color
from .geometry import affine_theta, warp

OPS = ("identity", "brightness", "color", "contrast", "sharpness", "posterize", "solarize",
       "autocontrast", "equalize", "rotate", "shear_x", "shear_y", "translate_x", "translate_y")
_GEOMETRIC = OPS.index("rotate")  # ops from here on are geometric


@dataclass(frozen=True)
class OpRanges:
    enhance: float    # factor = 1 +- enhance * s
    rotate: float     # degrees
    shear: float      # x += shear * s * y
    translate: float  # fraction of the image side
    posterize: int    # bits removed at s = 1 (8 -> 8 - posterize)


RANGES = {
    "trivial": OpRanges(enhance=0.99, rotate=135.0, shear=0.99, translate=1.0, posterize=6),
    "randaug": OpRanges(enhance=0.9, rotate=30.0, shear=0.3, translate=0.45, posterize=4),
}


def sample_layer(n: int, generator: torch.Generator, device: torch.device,
                 strength: float | None = None, strength_std: float = 0.0) -> dict[str, torch.Tensor]:
    """Random op index, strength and sign for ``n`` images (one policy layer).

    ``strength=None`` draws it uniformly in [0, 1] (TrivialAugment); a number fixes it
    (RandAugment's magnitude), jittered by a normal of std ``strength_std`` when given.
    """
    op = torch.randint(len(OPS), (n,), generator=generator, device=device)
    u = torch.rand(n, generator=generator, device=device)
    jitter = torch.randn(n, generator=generator, device=device)
    sign = torch.where(torch.rand(n, generator=generator, device=device) < 0.5, -1.0, 1.0)
    s = u if strength is None else (strength + strength_std * jitter).clamp(0, 1)
    return {"op": op, "strength": s, "sign": sign}


def apply_layer(x: torch.Tensor, op: torch.Tensor, strength: torch.Tensor, sign: torch.Tensor,
                ranges: OpRanges, fill: float) -> torch.Tensor:
    """Apply image n's op ``OPS[op[n]]`` at ``strength[n]`` (direction ``sign[n]``) to float ``x``."""
    n, _, h, w = x.shape
    signed = strength * sign
    factor = 1 + signed * ranges.enhance
    candidates = {
        "brightness": lambda: color.brightness(x, factor),
        "color": lambda: color.saturation(x, factor),
        "contrast": lambda: color.contrast(x, factor),
        "sharpness": lambda: color.sharpness(x, factor),
        "posterize": lambda: color.posterize(x, 8 - torch.round(strength * ranges.posterize)),
        "solarize": lambda: color.solarize(x, 1 - strength),
        "autocontrast": lambda: color.autocontrast(x),
        "equalize": lambda: color.equalize(x),
    }
    out = x
    for name, compute in candidates.items():
        out = torch.where((op == OPS.index(name)).view(n, 1, 1, 1), compute(), out)
    # One warp for all geometric ops; images that drew another op get the identity matrix.
    zero = torch.zeros_like(signed)

    def pick(name: str, value: torch.Tensor) -> torch.Tensor:
        return torch.where(op == OPS.index(name), value, zero)

    theta = affine_theta(pick("rotate", signed * ranges.rotate),
                         pick("shear_x", signed * ranges.shear), pick("shear_y", signed * ranges.shear),
                         pick("translate_x", signed * ranges.translate * w),
                         pick("translate_y", signed * ranges.translate * h), h, w)
    geometric = (op >= _GEOMETRIC).view(n, 1, 1, 1)
    return torch.where(geometric, warp(x, theta, fill), out)
