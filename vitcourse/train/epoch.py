"""One training epoch and one evaluation pass, with metrics accumulated on the device.

Per-step ``.item()`` calls would stall the GPU every step, so losses, correct counts and sample
counts are summed in device tensors and read back only every ``log_every`` steps (for the
progress bar and the divergence check) and at the end of the epoch, where they are all-reduced
across ranks. The first non-finite loss of the epoch is remembered on the device too, so the
check can name the exact step even though it runs only now and then.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from .average import WeightAverage
from .distributed import DistContext, all_reduce_sum
from .optim import Schedule
from .progress import Progress


# objective(net, images, targets) -> (loss, logits or None): what one training step minimises.
Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, Optional[torch.Tensor]]]


def classification_objective(label_smoothing: float = 0.0) -> Objective:
    """Cross-entropy on the logits, in float32 whatever the autocast dtype; smoothing applies to
    soft (Mixup/CutMix) targets too."""
    def objective(net, images, targets):
        logits = net(images)
        return F.cross_entropy(logits.float(), targets, label_smoothing=label_smoothing), logits
    return objective


class NonFiniteLoss(Exception):
    """Internal: raised on every rank at the same sync point; ``fit`` turns it into TrainingDiverged."""

    def __init__(self, step: int, loss: float):
        super().__init__(step, loss)
        self.step, self.loss = step, loss


@dataclass
class Engine:
    """What a step needs besides the batch; built once by ``fit``."""

    train_net: nn.Module  # possibly DDP- and/or compile-wrapped
    eval_net: nn.Module  # never DDP-wrapped: evaluation must not run collectives per batch
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    ctx: DistContext
    amp: bool  # bf16 autocast (CUDA only)
    channels_last: bool
    grad_clip: float | None
    log_every: int
    objective: Objective
    average: WeightAverage | None = None   # an EMA of the weights, updated after every step

    def autocast(self):
        if self.amp:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def to_device(self, images: torch.Tensor, targets: torch.Tensor):
        device = self.ctx.device
        images = images.to(device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images, targets.to(device, non_blocking=True)


def count_correct(logits: torch.Tensor | None, targets: torch.Tensor) -> torch.Tensor:
    """Correct predictions; for soft (Mixup/CutMix) targets the dominant class counts as the label.
    An objective without logits (self-supervised pre-training) counts none."""
    if logits is None:
        return torch.zeros((), device=targets.device)
    labels = targets if targets.ndim == 1 else targets.argmax(dim=1)
    return (logits.argmax(dim=1) == labels).sum()


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


class _TrainMeter:
    """Device-side sums for one epoch, read back only at sync points.

    ``sums`` holds [loss * n, correct, grad norm]; sample and step counts are known on the host.
    The first non-finite loss is kept (step and value) so a later check can name it exactly.
    """

    def __init__(self, device: torch.device):
        self.sums = torch.zeros(3, dtype=torch.float64, device=device)
        self.count = self.steps = 0
        self.bad_step = torch.tensor(-1, dtype=torch.int64, device=device)
        self.bad_loss = torch.tensor(0.0, dtype=torch.float32, device=device)
        self.shown, self.shown_count, self.shown_steps = torch.zeros_like(self.sums), 0, 0
        self.shown_at = time.perf_counter()

    @torch.no_grad()
    def add(self, step: int, loss: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor,
            grad_norm: torch.Tensor) -> None:
        newly_bad = ~torch.isfinite(loss) & (self.bad_step < 0)
        self.bad_step = torch.where(newly_bad, step, self.bad_step)
        self.bad_loss = torch.where(newly_bad, loss, self.bad_loss)
        n = targets.shape[0]
        self.sums += torch.stack([loss.double() * n, count_correct(logits, targets).double(),
                                  grad_norm.double()])
        self.count, self.steps = self.count + n, self.steps + 1

    def check(self, ctx: DistContext) -> None:
        """Raise NonFiniteLoss on every rank if any rank saw one (the earliest step wins)."""
        mine = torch.stack([self.bad_step.double(), self.bad_loss.double()])
        gathered = [mine]
        if ctx.distributed:
            gathered = [torch.empty_like(mine) for _ in range(ctx.world_size)]
            dist.all_gather(gathered, mine)
        found = [(int(step), loss) for step, loss in (g.tolist() for g in gathered) if step >= 0]
        if found:
            raise NonFiniteLoss(*min(found))

    def show(self, progress: Progress, world_size: int) -> None:
        """Progress since the last call: rank 0's loss and accuracy, images/s of all ranks."""
        now, delta, new = time.perf_counter(), (self.sums - self.shown).tolist(), self.count - self.shown_count
        if new:
            progress.update(self.steps - self.shown_steps, delta[0] / new, delta[1] / new,
                            new * world_size / max(now - self.shown_at, 1e-9))
        self.shown, self.shown_count, self.shown_steps = self.sums.clone(), self.count, self.steps
        self.shown_at = now

    def totals(self, ctx: DistContext) -> list[float]:
        """[loss sum, correct, grad-norm sum, samples, steps] over all ranks."""
        host = torch.tensor([self.count, self.steps], dtype=torch.float64, device=self.sums.device)
        return all_reduce_sum(ctx, torch.cat([self.sums, host])).tolist()


def train_one_epoch(engine: Engine, loader, first_step: int, progress: Progress) -> dict[str, Any]:
    """Train over ``loader`` once; ``first_step`` is the global step of its first batch."""
    device, net, opt = engine.ctx.device, engine.train_net, engine.optimizer
    params = [p for group in opt.param_groups for p in group["params"]]
    no_norm = torch.zeros((), device=device)
    meter, lr = _TrainMeter(device), 0.0
    net.train()
    start = time.perf_counter()
    for i, (images, targets) in enumerate(loader):
        images, targets = engine.to_device(images, targets)
        lr = engine.schedule.apply(opt, first_step + i)
        with engine.autocast():
            loss, logits = engine.objective(net, images, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = (torch.nn.utils.clip_grad_norm_(params, engine.grad_clip)
                     if engine.grad_clip is not None else no_norm)
        opt.step()
        if engine.average is not None:
            engine.average.update()
        meter.add(i, loss.detach(), logits, targets, grad_norm)
        if (i + 1) % engine.log_every == 0:
            meter.check(engine.ctx)  # a sync point, reached by every rank at the same step
            meter.show(progress, engine.ctx.world_size)
    meter.check(engine.ctx)
    meter.show(progress, engine.ctx.world_size)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    train_time = time.perf_counter() - start
    loss_sum, correct, norm_sum, count, n_steps = meter.totals(engine.ctx)
    denominator = max(count, 1.0)
    return {
        "train_loss": _finite_or_none(loss_sum / denominator),
        "train_acc": correct / denominator,
        "train_samples": int(count),
        "train_time_s": train_time,
        "images_per_s": count / train_time,
        "lr": lr,
        "grad_norm": (_finite_or_none(norm_sum / max(n_steps, 1.0))
                      if engine.grad_clip is not None else None),
    }


@torch.no_grad()
def evaluate(engine: Engine, loader, net: nn.Module | None = None) -> dict[str, Any]:
    """Test loss (plain cross-entropy, no smoothing) and accuracy over every rank's shard, of
    the trained model (or of ``net``, e.g. the weight average)."""
    device, net = engine.ctx.device, engine.eval_net if net is None else net
    net.eval()
    sums = torch.zeros(2, dtype=torch.float64, device=device)  # [loss sum, correct]
    count = 0
    start = time.perf_counter()
    for images, targets in loader:
        images, targets = engine.to_device(images, targets)
        with engine.autocast():
            logits = net(images).float()
        loss = F.cross_entropy(logits, targets, reduction="sum")
        sums += torch.stack([loss.double(), count_correct(logits, targets).double()])
        count += images.shape[0]
    totals = torch.cat([sums, torch.tensor([count], dtype=torch.float64, device=device)])
    loss_sum, correct, count = all_reduce_sum(engine.ctx, totals).tolist()
    count_ = max(count, 1.0)
    return {
        "test_loss": _finite_or_none(loss_sum / count_),
        "test_acc": correct / count_,
        "test_samples": int(count),
        "eval_time_s": time.perf_counter() - start,
    }
