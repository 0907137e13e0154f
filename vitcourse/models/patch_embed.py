"""Patch embedding: cut an image into P x P patches and project each one linearly to D dims.

Eq. (1) of the paper writes this as x_p^i E with E in R^{(P^2 C) x D}. Two forms are given here:
`LinearPatchEmbed` does exactly that (rearrange, then a Linear layer), `ConvPatchEmbed` is the
convolution with kernel = stride = P that the reference code uses. They are the same function
once weights are copied with `copy_conv_to_linear` / `copy_linear_to_conv`.
"""

import torch
from einops.layers.torch import Rearrange
from torch import nn


def check_image_and_patch(image_size: tuple[int, int], patch_size: int) -> tuple[int, int]:
    """Return the patch grid (rows, cols), or raise a clear error when P does not divide H, W."""
    h, w = image_size
    if patch_size <= 0:
        raise ValueError(f"patch_size={patch_size} must be a positive integer.")
    if h % patch_size or w % patch_size:
        raise ValueError(
            f"image size {h}x{w} is not divisible by patch_size={patch_size}: choose a patch size "
            f"that divides both sides (e.g. {_divisors_hint(h, w)}) or resize the images."
        )
    return h // patch_size, w // patch_size


def _divisors_hint(h: int, w: int) -> str:
    common = [p for p in range(2, min(h, w) + 1) if h % p == 0 and w % p == 0]
    return ", ".join(map(str, common[:6])) or "1"


class LinearPatchEmbed(nn.Module):
    """The paper's form: flatten each patch to P*P*C values, then multiply by E (plus a bias)."""

    def __init__(self, patch_size: int, in_channels: int, dim: int):
        super().__init__()
        self.patch_size = patch_size
        # (p1 p2 c): pixels of a patch in row-major order, channels last, as in the JAX code.
        self.to_patches = Rearrange("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch_size, p2=patch_size)
        self.proj = nn.Linear(patch_size * patch_size * in_channels, dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(self.to_patches(images))


class ConvPatchEmbed(nn.Module):
    """The reference code's form: a Conv2d whose kernel and stride are both P (non-overlapping)."""

    def __init__(self, patch_size: int, in_channels: int, dim: int):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(images).flatten(2).transpose(1, 2)  # B, D, h, w -> B, h*w, D


@torch.no_grad()
def copy_conv_to_linear(conv: ConvPatchEmbed, linear: LinearPatchEmbed) -> LinearPatchEmbed:
    """Copy a conv patch embedding's weights into a linear one (the two then agree exactly)."""
    w = conv.proj.weight  # D, C, P, P
    linear.proj.weight.copy_(w.permute(0, 2, 3, 1).reshape(w.shape[0], -1))  # D, (P P C)
    linear.proj.bias.copy_(conv.proj.bias)
    return linear


@torch.no_grad()
def copy_linear_to_conv(linear: LinearPatchEmbed, conv: ConvPatchEmbed) -> ConvPatchEmbed:
    """The inverse of `copy_conv_to_linear`."""
    d, c, p, _ = conv.proj.weight.shape
    conv.proj.weight.copy_(linear.proj.weight.reshape(d, p, p, c).permute(0, 3, 1, 2))
    conv.proj.bias.copy_(linear.proj.bias)
    return conv


PATCH_EMBEDS = {"conv": ConvPatchEmbed, "linear": LinearPatchEmbed}
