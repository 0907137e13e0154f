"""Training engine for the book: one ``fit`` loop for every model, with run logs and resumable,
pickle-free checkpoints; runs unchanged on CPU, one GPU, or several under ``torchrun``.

Typical use::

    from vitcourse.train import TrainConfig, fit, init_distributed, seed_everything
    ctx = init_distributed()                 # rank/world size for sharding the loaders
    seed_everything(0); model = ...          # same initial weights on every rank
    log = fit(model, train_loader, test_loader, TrainConfig(epochs=10), "runs/demo")
"""

from .checkpoint import latest_checkpoint, load_checkpoint
from .config import TrainConfig
from .distributed import DistContext, init_distributed, shutdown_distributed
from .epoch import Objective, classification_objective
from .errors import ConfigMismatch, ResumeMismatch, TrainingDiverged
from .fit import fit
from .optim import Schedule, build_optimizer, lr_at, param_groups
from .protocol import TrainLoader
from .runlog import RunLogError, read_run_log
from ..seeding import seed_everything

__all__ = [
    "Objective", "classification_objective", "ConfigMismatch", "DistContext", "ResumeMismatch", "Schedule",
    "TrainConfig", "TrainLoader", "TrainingDiverged", "build_optimizer", "fit",
    "init_distributed", "latest_checkpoint", "load_checkpoint", "lr_at", "param_groups",
    "RunLogError", "read_run_log", "seed_everything", "shutdown_distributed",
]
