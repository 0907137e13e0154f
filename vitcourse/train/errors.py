"""Exceptions the training loop raises on purpose, each carrying a message that says what to do."""

from __future__ import annotations

from typing import Any


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run stopped and its last good checkpoint is kept.

    ``epoch`` is 1-based (as in the run log); ``step`` counts batches within that epoch from 0.
    """

    def __init__(self, epoch: int, step: int, loss: float, run_dir: str, last_good_epoch: int):
        self.epoch, self.step, self.loss = epoch, step, loss
        self.run_dir, self.last_good_epoch = run_dir, last_good_epoch
        kept = (f"the checkpoint after epoch {last_good_epoch} is kept" if last_good_epoch
                else "no epoch had completed, so there is no checkpoint")
        super().__init__(
            f"training diverged: loss = {loss} at epoch {epoch}, step {step} of that epoch; "
            f"{kept} in {run_dir} (run.json status 'diverged'). Try a lower lr, longer warm-up "
            "or gradient clipping, in a new run_dir."
        )


class ConfigMismatch(ValueError):
    """``fit`` was pointed at a run directory that holds a run with a different config."""

    def __init__(self, run_dir: str, differences: dict[str, tuple[Any, Any]]):
        self.run_dir, self.differences = run_dir, differences
        lines = "\n".join(f"  {k}: saved {old!r}, now {new!r}" for k, (old, new) in differences.items())
        super().__init__(
            f"{run_dir} holds a run with a different config:\n{lines}\n"
            "Either use a new run_dir for the new config, or call fit with the saved config "
            "to resume (or return) the existing run."
        )


class ResumeMismatch(ValueError):
    """Something other than the config (e.g. batches per epoch) changed between segments."""
