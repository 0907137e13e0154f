"""Optimizer construction (weight decay on weights only) and the warm-up + cosine lr schedule.

The schedule is a pure function of the global step, so resuming needs no scheduler state beyond
the step count, and the lr at any step can be plotted without running anything.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import TrainConfig

# Parameters whose name contains one of these are never decayed: shrinking a position embedding
# or class token towards zero has no regularising meaning (timm and the ViT paper's code agree).
NO_DECAY_NAME_PARTS = ("pos_embed", "cls_token")


def no_decay(name: str, param: torch.Tensor, extra_names: frozenset[str] = frozenset()) -> bool:
    """True for biases, norm scales/shifts (all 1-D), embeddings named above, or ``extra_names``."""
    return (param.ndim <= 1 or any(part in name for part in NO_DECAY_NAME_PARTS)
            or name in extra_names)


def param_groups(model: nn.Module, weight_decay: float,
                 lr_scales: dict[str, float] | None = None) -> list[dict]:
    """Optimizer groups: decayed weights and everything else, each split by learning-rate scale.

    A model may also name parameters to skip through a ``no_weight_decay()`` method returning
    names (timm's convention), so timm models in the benchmarks are treated the same way.
    ``lr_scales`` maps parameter-name prefixes to a factor ``s``: those parameters train at
    ``s`` x the scheduled lr; the longest matching prefix wins, so ``{"": 0.01, "head.": 1.0}``
    trains everything but the head at lr/100. ``Schedule.apply`` reads each group's ``lr_scale``.
    """
    extra = frozenset(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else frozenset()
    lr_scales = dict(lr_scales or {})
    for prefix, scale in lr_scales.items():
        if not 0.0 <= scale <= 1.0:
            raise ValueError(f"lr_scales[{prefix!r}] = {scale} must be in [0, 1] (a fraction of the lr)")
    names = [name for name, _ in model.named_parameters()]
    unused = [p for p, s in lr_scales.items() if s != 1.0 and not any(n.startswith(p) for n in names)]
    if unused:  # most likely a typo: the run would silently train those parameters at the full lr
        raise ValueError(f"lr_scales prefixes {unused} match no parameter of the model")
    groups: dict[tuple[bool, float], list] = {(True, 1.0): [], (False, 1.0): []}
    for name, param in model.named_parameters():
        if param.requires_grad:
            key = (not no_decay(name, param, extra), _scale_of(name, lr_scales))
            groups.setdefault(key, []).append(param)
    return [{"params": params, "weight_decay": weight_decay if decay else 0.0,
             "group": ("decay" if decay else "no_decay") + (f" x{scale:g}" if scale != 1.0 else ""),
             "lr_scale": scale}
            for (decay, scale), params in groups.items() if params or scale == 1.0]


def _scale_of(name: str, lr_scales: dict[str, float]) -> float:
    matches = [prefix for prefix in lr_scales if name.startswith(prefix)]
    return lr_scales[max(matches, key=len)] if matches else 1.0


def build_optimizer(model: nn.Module, config: TrainConfig,
                    lr_scales: dict[str, float] | None = None) -> torch.optim.Optimizer:
    """AdamW for transformers, SGD with (Nesterov) momentum for the ResNet baselines.

    Build it after moving the model to its device: on CUDA, AdamW uses the fused kernel (one
    launch for all parameters instead of several per tensor). ``lr_scales``: see ``param_groups``.
    """
    groups = param_groups(model, config.weight_decay, lr_scales)
    if config.optimizer == "adamw":
        on_cuda = all(p.is_cuda for p in model.parameters())
        return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas,
                                 fused=True if on_cuda else None)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum,
                           nesterov=config.nesterov and config.momentum > 0)


def lr_at(step: int, total_steps: int, warmup_steps: int, base_lr: float, min_lr: float) -> float:
    """Linear warm-up from ~0 to ``base_lr``, then cosine decay to ``min_lr`` at ``total_steps``.

    ``step`` counts optimizer steps from 0; the first step already gets a small non-zero lr
    (``base_lr / warmup_steps``) so no step is wasted.
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


class Schedule:
    """The schedule bound to one run's length; ``apply`` sets the lr of every group for a step.

    A group trains at ``lr_scale`` x the scheduled lr. PyTorch's AdamW step is
    lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * p) and SGD's lr * (momentum buffer); the
    moments and buffers do not depend on lr, so a scaled group takes exactly the scaled step,
    decoupled weight decay included.
    """

    def __init__(self, config: TrainConfig, steps_per_epoch: int, epochs: int | None = None):
        # ``epochs``: the run's length when it is not config.epochs (a time budget decided it)
        self.total_steps = (config.epochs if epochs is None else epochs) * steps_per_epoch
        self.warmup_steps = round(config.warmup_epochs * steps_per_epoch)
        self.base_lr, self.min_lr = config.lr, config.min_lr

    def lr(self, step: int) -> float:
        return lr_at(step, self.total_steps, self.warmup_steps, self.base_lr, self.min_lr)

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        lr = self.lr(step)
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        return lr
