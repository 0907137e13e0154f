"""Mixup and CutMix, per sample, with soft targets.

Each image i of a batch is mixed with a partner image (the loader pairs global batch position p
with position B-1-p, i.e. the batch reversed). Every image draws its own lambda ~ Beta(a, a)
and, when both are enabled, its own choice of Mixup or CutMix. The result is returned as soft
targets ``lam * onehot(y_i) + (1 - lam) * onehot(y_partner)``: one ``N x K`` tensor whose rows
sum to 1, which ``F.cross_entropy`` accepts directly (label smoothing included).

Beta samples come from two Gamma samples drawn with Marsaglia and Tsang's method, so they use
the caller's ``torch.Generator`` on any device (``torch.distributions`` cannot take one).
"""

from __future__ import annotations

import math

import torch

from .geometry import box_mask


def sample_gamma(alpha: float, n: int, generator: torch.Generator, device: torch.device,
                 tries: int = 8) -> torch.Tensor:
    """``n`` Gamma(alpha, 1) samples. Marsaglia-Tsang accepts >95% of candidates for alpha >= 1;
    drawing ``tries`` candidates and keeping the first accepted one avoids a data-dependent
    loop (all rejected has probability < 1e-10 and falls back to a candidate)."""
    boost = alpha < 1  # Gamma(a) = Gamma(a + 1) * U^(1/a)
    a = alpha + 1 if boost else alpha
    d = a - 1 / 3
    c = 1 / math.sqrt(9 * d)
    z = torch.randn(tries, n, generator=generator, device=device)
    u = torch.rand(tries, n, generator=generator, device=device)
    v = (1 + c * z) ** 3
    v_safe = v.clamp_min(1e-12)
    accept = (v > 0) & (torch.log(u) < 0.5 * z * z + d - d * v_safe + d * torch.log(v_safe))
    first = accept.float().argmax(0, keepdim=True)  # index of the first accepted try
    g = d * v_safe.gather(0, first).squeeze(0)
    if boost:
        g = g * torch.rand(n, generator=generator, device=device) ** (1 / alpha)
    return g


def sample_beta(alpha: float, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """``n`` samples of Beta(alpha, alpha) in [0, 1]."""
    g1 = sample_gamma(alpha, n, generator, device)
    g2 = sample_gamma(alpha, n, generator, device)
    return g1 / (g1 + g2).clamp_min(1e-12)


def sample_mixing(n: int, mixup: float, cutmix: float, mix_prob: float, switch_prob: float,
                  generator: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    """Per-sample mixing parameters; the same random draws whatever is enabled."""
    ones = torch.ones(n, device=device)
    lam_mixup = sample_beta(mixup, n, generator, device) if mixup > 0 else ones
    lam_cutmix = sample_beta(cutmix, n, generator, device) if cutmix > 0 else ones
    active = torch.rand(n, generator=generator, device=device) < mix_prob
    switch = torch.rand(n, generator=generator, device=device) < switch_prob
    use_cutmix = switch if (mixup > 0 and cutmix > 0) else torch.full_like(active, cutmix > 0)
    centre = torch.rand(n, 2, generator=generator, device=device)  # CutMix box centre (y, x)
    return {"active": active, "use_cutmix": use_cutmix, "lam_mixup": lam_mixup,
            "lam_cutmix": lam_cutmix, "centre": centre}


def mix(x: torch.Tensor, partner: torch.Tensor, y: torch.Tensor, y_partner: torch.Tensor,
        params: dict[str, torch.Tensor], num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix ``x`` with ``partner`` row by row; returns images and soft targets ``N x K``."""
    n, _, h, w = x.shape
    active, use_cutmix = params["active"], params["use_cutmix"]
    # CutMix box: side fraction sqrt(1 - lam) around a uniform centre, clipped to the image;
    # lambda is then recomputed from the clipped area so targets match the pixels.
    side = torch.sqrt(1 - params["lam_cutmix"])
    cy, cx = params["centre"][:, 0] * h, params["centre"][:, 1] * w
    half_h, half_w = torch.floor(side * h) / 2, torch.floor(side * w) / 2
    y0, y1 = (cy - half_h).round().clamp(0, h), (cy + half_h).round().clamp(0, h)
    x0, x1 = (cx - half_w).round().clamp(0, w), (cx + half_w).round().clamp(0, w)
    box = box_mask(h, w, y0, y1, x0, x1)
    lam_box = 1 - (y1 - y0) * (x1 - x0) / (h * w)
    cut = active & use_cutmix
    paste = box & cut.view(n, 1, 1)
    lam = torch.where(active, torch.where(use_cutmix, lam_box, params["lam_mixup"]), torch.ones_like(lam_box))
    blended = torch.where((active & ~use_cutmix).view(n, 1, 1, 1),
                          lam.view(n, 1, 1, 1) * x + (1 - lam.view(n, 1, 1, 1)) * partner, x)
    out = torch.where(paste.unsqueeze(1), partner, blended)
    targets = (lam.view(n, 1) * _one_hot(y, num_classes, x.dtype)
               + (1 - lam.view(n, 1)) * _one_hot(y_partner, num_classes, x.dtype))
    return out, targets


def _one_hot(y: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    # scatter instead of F.one_hot, which checks the label range on the host (a GPU sync).
    return torch.zeros(len(y), num_classes, dtype=dtype, device=y.device).scatter_(1, y.view(-1, 1), 1.0)
