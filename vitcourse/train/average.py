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
        self.source, self.decay = model, decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self) -> None:
        averaged, trained = list(self.model.parameters()), list(self.source.parameters())
        torch._foreach_lerp_(averaged, trained, 1.0 - self.decay)   # one fused kernel per dtype
        for mine, theirs in zip(self.model.buffers(), self.source.buffers()):
            mine.copy_(theirs)
