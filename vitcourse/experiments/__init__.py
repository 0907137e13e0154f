"""Named experiments (smoke and full profiles), their runner, the suite and validated results."""

from . import catalog  # noqa: F401  (registers the book's experiments)
from .chapter import ChapterResults, chapter_results, notebook_profile
from .registry import EXPERIMENTS, get_experiment, register
from .results import Run, load_runs, validate_run_log
from .runner import command_for, load_trained_model, prepare_dataset, run_experiment
from .spec import PROFILES, Experiment
from .tasks import TASKS, TaskSetup, register_task
from .suite import pending, run_suite

__all__ = ["TASKS", "TaskSetup", "register_task", "ChapterResults", "chapter_results", "notebook_profile", "EXPERIMENTS", "Experiment", "PROFILES", "Run", "command_for", "get_experiment", "load_runs", "load_trained_model",
           "pending", "prepare_dataset", "register", "run_experiment", "run_suite", "validate_run_log"]
