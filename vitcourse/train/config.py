"""Training hyperparameters as one JSON-safe dataclass.

The config is written into every run log and checkpoint; resuming compares it key by key, so
everything that changes the numbers a run produces belongs here, and nothing machine-specific
(device, paths) does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .time_budget import PROBE_EPOCHS

OPTIMIZERS = ("adamw", "sgd")
AMP_MODES = ("bf16", "none")

# Keys that change only what is printed, never the numbers; a resume may change them freely.
PRESENTATION_KEYS = frozenset({"log_every"})


@dataclass
class TrainConfig:
    """Everything that determines a training run's numbers.

    ``batch_size`` is the *global* batch (all ranks together), the number the paper reports;
    ``vitcourse.data.TensorLoader`` takes it as is and gives each rank its share. ``fit`` records it but
    does not build loaders. ``amp="bf16"`` is honoured on CUDA and ignored on CPU, and
    ``channels_last`` only on CUDA, so one config runs everywhere. With ``time_budget_min``,
    ``epochs`` is the most the run trains; it decides how many fit (``time_budget``).
    """

    epochs: int = 10
    batch_size: int = 128  # global, all ranks together
    optimizer: str = "adamw"  # or "sgd" (ResNet baselines)
    lr: float = 1e-3  # peak lr, reached at the end of warm-up
    weight_decay: float = 0.05  # weights only: not biases, norms, class token, positions
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW only
    momentum: float = 0.9  # SGD only
    nesterov: bool = True  # SGD only
    warmup_epochs: float = 1.0  # linear from ~0, then cosine to min_lr; stepped per batch
    min_lr: float = 1e-6
    label_smoothing: float = 0.0  # applied in the loss, to hard and soft targets alike
    grad_clip: float | None = 1.0  # max global gradient norm; None disables clipping
    amp: str = "bf16"  # "bf16" autocast on CUDA (ignored on CPU) or "none"
    compile: bool = False  # torch.compile the model
    channels_last: bool = False  # NHWC memory layout on CUDA (helps conv nets)
    seed: int = 0  # seeds every epoch's dropout / drop-path / global RNG draws
    log_every: int = 50  # steps between progress updates and divergence checks (GPU syncs)
    eval_every: int = 1  # epochs between test passes; the last epoch is always tested
    weight_average: float | None = None  # EMA decay per step (e.g. 0.999), tested beside the weights
    time_budget_min: float | None = None  # train as many epochs (<= epochs) as fit: see time_budget

    def __post_init__(self) -> None:
        self.betas = tuple(float(b) for b in self.betas)  # JSON gives a list back
        problems = []
        if self.epochs < 1:
            problems.append(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1, got {self.batch_size}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.amp not in AMP_MODES:
            problems.append(f"amp must be one of {AMP_MODES}, got {self.amp!r}")
        if len(self.betas) != 2:
            problems.append(f"betas must have two values, got {self.betas}")
        if not 0 <= self.warmup_epochs <= self.epochs:
            problems.append(f"warmup_epochs must be in [0, epochs], got {self.warmup_epochs}")
        if not 0 <= self.label_smoothing < 1:
            problems.append(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            problems.append(f"grad_clip must be positive or None, got {self.grad_clip}")
        if self.eval_every < 1:
            problems.append(f"eval_every must be >= 1, got {self.eval_every}")
        if self.weight_average is not None and not 0 < self.weight_average < 1:
            problems.append(f"weight_average (an EMA decay) must be in (0, 1) or None, got {self.weight_average}")
        if self.time_budget_min is not None:
            if not self.time_budget_min > 0:
                problems.append(f"time_budget_min must be a positive number of minutes or None, "
                                f"got {self.time_budget_min}")
            if self.epochs <= PROBE_EPOCHS or self.warmup_epochs < PROBE_EPOCHS:
                problems.append(f"a time budget decides the epochs after a {PROBE_EPOCHS}-epoch probe "
                                f"inside the warm-up: needs epochs > {PROBE_EPOCHS} and warmup_epochs "
                                f">= {PROBE_EPOCHS}, got {self.epochs} and {self.warmup_epochs}")
        if self.log_every < 1:
            problems.append(f"log_every must be >= 1, got {self.log_every}")
        if problems:
            raise ValueError("invalid TrainConfig: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (the tuple becomes a list)."""
        data = dataclasses.asdict(self)
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """Inverse of ``to_dict``; unknown keys are an error rather than silently dropped."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig keys: {unknown}; known keys: {sorted(known)}")
        return cls(**data)



def config_differences(saved: dict[str, Any], current: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ between two config dicts, as ``{key: (saved, current)}``.

    Presentation-only keys are skipped. A key missing on one side (e.g. a config saved by an
    older version of this package) counts as a difference, shown as ``<missing>``.
    """
    missing = "<missing>"
    diffs = {}
    for key in sorted(set(saved) | set(current)):
        if key in PRESENTATION_KEYS:
            continue
        old, new = saved.get(key, missing), current.get(key, missing)
        if old != new:
            diffs[key] = (old, new)
    return diffs
