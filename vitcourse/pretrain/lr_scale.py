"""Train some parameters at a fraction of the learning rate, without touching the optimizer.

Fine-tuning a pre-trained encoder gently (e.g. at 1/100 of the head's learning rate) usually means
a second optimizer parameter group. The course's `fit` builds its own optimizer and sets one
learning rate for every group each step, so instead we scale the *update*: remember the chosen
parameters just before each optimizer step, and afterwards move them back so only `scale` of the
step remains:  p <- p_before + scale * (p_after - p_before).

For the optimizers `fit` uses this is exactly a learning rate of lr * scale. In PyTorch's AdamW
the step is lr * (weight_decay * p + m_hat / (sqrt(v_hat) + eps)) and SGD's is lr * (momentum
buffer); the moments and buffers themselves do not depend on lr, so a step scaled afterwards is
the step a scaled lr would have taken (tested against a real second parameter group).
Gradient clipping is unaffected, since it acts on the gradients before the step.
"""

from __future__ import annotations

import weakref

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook


class ScaledUpdates:
    """While this object is alive, every optimizer step that updates `params` moves them by only
    `scale` times the usual amount. Keep a reference (e.g. as a model attribute); `close()` or
    garbage collection removes the hooks."""

    def __init__(self, params, scale: float):
        if not 0.0 <= scale <= 1.0:
            raise ValueError(f"scale={scale} must be in [0, 1] (the fraction of the learning rate).")
        self.params = [p for p in params]
        self.scale = float(scale)
        self._ids = {id(p) for p in self.params}
        self._before: list[torch.Tensor] | None = None
        self._seen: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        # The optimizer hooks are global, so they must not keep this object (and the model's
        # parameters) alive: they hold a weak reference and do nothing once it is gone.
        me = weakref.ref(self)
        pre = register_optimizer_step_pre_hook(lambda opt, args, kwargs: _call(me, "_pre", opt))
        post = register_optimizer_step_post_hook(lambda opt, args, kwargs: _call(me, "_post", opt))
        self._handles = [pre, post]
        self._finalizer = weakref.finalize(self, _remove, [pre, post])

    def _updates_mine(self, optimizer) -> bool:
        if optimizer not in self._seen:
            self._seen[optimizer] = any(id(p) in self._ids for g in optimizer.param_groups for p in g["params"])
        return self._seen[optimizer]

    @torch.no_grad()
    def _pre(self, optimizer) -> None:
        if self.scale != 1.0 and self._updates_mine(optimizer):
            self._before = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def _post(self, optimizer) -> None:
        if self._before is None:
            return
        for p, before in zip(self.params, self._before):
            p.lerp_(before, 1.0 - self.scale)   # p + (1 - s)(before - p) = before + s (p - before)
        self._before = None

    def close(self) -> None:
        self._finalizer()


def _call(ref, method: str, optimizer) -> None:
    obj = ref()
    if obj is not None:
        getattr(obj, method)(optimizer)


def _remove(handles) -> None:
    for handle in handles:
        handle.remove()
