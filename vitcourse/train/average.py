"""An exponential moving average of the weights (EMA, Polyak averaging), a common extra of
from-scratch ViT recipes (DeiT keeps one).

After every optimiser step, each averaged parameter moves a little towards the trained one:

    w_avg <- decay * w_avg + (1 - decay) * w

so it averages the last ~1 / (1 - decay) steps' weights: 0.999 averages about a thousand steps.
The average is evaluated beside the trained weights (its test accuracy is logged as
`avg_test_acc`); it never feeds back into training. Buffers (BatchNorm statistics) are copied.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        # Collected once: update() runs every step, and loading a checkpoint copies in place.
        self._averaged, self._trained = list(self.model.parameters()), list(model.parameters())
        self._buffers = list(zip(self.model.buffers(), model.buffers()))

    @torch.no_grad()
    def update(self) -> None:
        torch._foreach_lerp_(self._averaged, self._trained, 1.0 - self.decay)   # one fused kernel per dtype
        for mine, theirs in self._buffers:
            mine.copy_(theirs)
