"""Batched geometric transforms: crop+flip as one gather, affine warps, resized crops, resizing.

Every function takes per-sample parameters as tensors, so one call transforms a whole batch on
whatever device it lives on, and the same parameters give the same result on CPU and GPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def crop_flip(images: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flip: torch.Tensor,
              pad: int, mode: str = "reflect") -> torch.Tensor:
    """Random-crop-with-padding and horizontal flip in one gather, for any dtype (uint8 too).

    Output pixel (i, j) of image n reads input pixel (i + dy[n] - pad, j' + dx[n] - pad) where
    j' is j mirrored when ``flip[n]``; ``dy``/``dx`` lie in [0, 2 * pad]. Indices that fall
    outside are reflected (``"reflect"``, like ``F.pad(mode="reflect")``) or read as 0
    (``"zeros"``). Padding is never materialised, which keeps it cheap for uint8 batches.
    """
    n, c, h, w = images.shape
    if pad >= min(h, w):
        raise ValueError(f"crop padding {pad} must be smaller than the image side {min(h, w)}")
    dev = images.device
    rows = torch.arange(h, device=dev) + dy.view(n, 1) - pad  # n x h
    cols = torch.arange(w, device=dev) + dx.view(n, 1) - pad  # n x w
    cols = torch.where(flip.view(n, 1), cols.flip(1), cols)
    if mode == "reflect":
        rows, cols = _reflect(rows, h), _reflect(cols, w)
        inside = None
    else:
        inside = ((rows >= 0) & (rows < h)).view(n, 1, h, 1) & ((cols >= 0) & (cols < w)).view(n, 1, 1, w)
        rows, cols = rows.clamp(0, h - 1), cols.clamp(0, w - 1)
    flat = (rows.view(n, h, 1) * w + cols.view(n, 1, w)).view(n, 1, h * w).expand(n, c, h * w)
    out = images.reshape(n, c, h * w).gather(2, flat).view(n, c, h, w)
    return out if inside is None else out * inside.to(out.dtype)


def box_mask(height: int, width: int, y0: torch.Tensor, y1: torch.Tensor, x0: torch.Tensor,
             x1: torch.Tensor) -> torch.Tensor:
    """``N x H x W`` booleans: True inside each image's box [y0, y1) x [x0, x1) (per-sample N-vectors)."""
    n = len(y0)
    rows = torch.arange(height, device=y0.device).view(1, height, 1)
    cols = torch.arange(width, device=y0.device).view(1, 1, width)
    return ((rows >= y0.view(n, 1, 1)) & (rows < y1.view(n, 1, 1))
            & (cols >= x0.view(n, 1, 1)) & (cols < x1.view(n, 1, 1)))


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    # Mirror about the edge pixels (..., 2, 1 | 0, 1, 2, ...), valid for |overshoot| < size.
    index = index.abs()
    return torch.where(index > size - 1, 2 * (size - 1) - index, index)


def affine_theta(angle_deg: torch.Tensor, shear_x: torch.Tensor, shear_y: torch.Tensor,
                 shift_x: torch.Tensor, shift_y: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``N x 2 x 3`` matrices for ``F.affine_grid`` from per-sample rotation (degrees), shears
    (x += s * y) and shifts (pixels, content moves right/down for positive values).

    The maps are built in centred pixel coordinates, then rescaled to affine_grid's [-1, 1]
    coordinates, so rotations stay rotations on non-square images.
    """
    a = angle_deg * (math.pi / 180)
    cos, sin = torch.cos(a), torch.sin(a)
    # Output-to-input map in pixels: rotate, then shear (x += shear_x * y, y += shear_y * x).
    a00, a01 = cos + (-sin) * shear_y, cos * shear_x - sin
    a10, a11 = sin + cos * shear_y, sin * shear_x + cos
    # To [-1, 1] coordinates: entry (i, j) scales by d_i / d_j with d = (2 / W, 2 / H). Python
    # scalars only: building a small tensor here would mean a host-to-GPU copy per batch.
    theta = torch.stack([
        torch.stack([a00, a01 * (height / width), -shift_x * (2 / width)], -1),
        torch.stack([a10 * (width / height), a11, -shift_y * (2 / height)], -1),
    ], -2)
    return theta


def warp(images: torch.Tensor, theta: torch.Tensor, fill: float) -> torch.Tensor:
    """Apply ``theta`` (bilinear) to float images; exposed areas get the grey ``fill``."""
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    # grid_sample pads with zeros; shifting by fill first makes the padding come out as fill.
    out = F.grid_sample(images - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out + fill


def sample_resized_crop(n: int, scale: tuple[float, float], ratio: tuple[float, float],
                        generator: torch.Generator | None, device: torch.device) -> dict[str, torch.Tensor]:
    """Random-resized-crop boxes for ``n`` images, as fractions of the image's width and height.

    Area fraction ``s ~ U(scale)``, aspect ``r`` (width / height) log-uniform in ``ratio``;
    the box is ``sqrt(s * r)`` of the width by ``sqrt(s / r)`` of the height, clamped to the
    image, at a uniform position that keeps it inside. Fractions rather than pixels: the box
    is then independent of the resolution, and continuous (the resampling is bilinear anyway).
    """
    u = torch.rand(4, n, generator=generator, device=device)
    area = scale[0] + (scale[1] - scale[0]) * u[0]
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * u[1])
    width = torch.sqrt(area * aspect).clamp_(max=1.0)
    height = torch.sqrt(area / aspect).clamp_(max=1.0)
    return {"left": u[2] * (1 - width), "top": u[3] * (1 - height), "width": width, "height": height}


def resized_crop_theta(left: torch.Tensor, top: torch.Tensor, width: torch.Tensor,
                       height: torch.Tensor) -> torch.Tensor:
    """``N x 2 x 3`` matrices for ``F.affine_grid`` (align_corners=False) that map the full
    output onto each image's box (fractions of the image side, as from ``sample_resized_crop``).

    In affine_grid's [-1, 1] coordinates the box spans ``-1 + 2 * left`` to
    ``-1 + 2 * (left + width)``: a scale by ``width`` about the box centre.
    """
    zero = torch.zeros_like(width)
    theta = torch.stack([
        torch.stack([width, zero, 2 * left + width - 1], -1),
        torch.stack([zero, height, 2 * top + height - 1], -1),
    ], -2)
    return theta


def resized_crop(images: torch.Tensor, box: dict[str, torch.Tensor]) -> torch.Tensor:
    """Resample each image's box (see ``sample_resized_crop``) to the full size, bilinearly."""
    theta = resized_crop_theta(box["left"], box["top"], box["width"], box["height"])
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    # Boxes lie inside the image, but the outermost samples can fall in the half pixel between
    # the last pixel centre and the edge: "border" repeats the edge there instead of fading to 0.
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def resize(images: torch.Tensor, size: int, mode: str = "bicubic") -> torch.Tensor:
    """Square resize of float images (e.g. 32 -> 224 for ViT-B/16); antialiased when shrinking."""
    if images.shape[-2:] == (size, size):
        return images
    shrinking = size < min(images.shape[-2:])
    kwargs = {} if mode == "nearest" else {"align_corners": False, "antialias": shrinking}
    return F.interpolate(images, size=(size, size), mode=mode, **kwargs)
