"""The lab's one door for the book's chapters: everything a notebook of the training-run chapter
or of Part III needs from the experiments, imported from here.

    from vitcourse.lab.chapter import chapter_results, command_for, get_experiment, notebook_profile

Part I and the module chapters of Part II import only the course.
"""

from . import budget, window
from .arrays import (best_finished_run, finished_run, load_arrays, mean_confusion, read_distill, read_inspection, read_light,
                     saved_arrays)
from .budget import current_rates, estimate_gpu_minutes, experiment_cpu_minutes, experiment_gpu_minutes, plan_epochs
from .build import prepare_dataset
from .calibrate import report as calibration_report
from .catalog import (part2_first_run, part3_compare, part3_data_ablations, part3_imbalance, part3_inspect,
                      part3_light, part3_recipe, part3_transfer)
from .chapter_results import ChapterResults, FigureData, chapter_results, figure_data, notebook_profile
from .part3_table import part3_rows
from .published import PAPER_TABLE8, SOURCE_3A, SOURCE_3A_SMALL, SOURCE_3B_CLAIMS
from .registry import EXPERIMENTS, get_experiment
from .paths import run_dir
from .results import Run, is_finished, load_runs
from .runner import command_for, load_trained_model, run_experiment
from .summaries import (accuracy_at, format_table, knob_rows, steady_epoch_time, steady_images_per_s,
                        summarize, total_minutes)
from .weights import analysed_model

__all__ = [
    "analysed_model", "budget", "estimate_gpu_minutes", "experiment_cpu_minutes", "experiment_gpu_minutes",
    "plan_epochs", "calibration_report", "current_rates", "window",
    "best_finished_run", "finished_run", "is_finished", "load_arrays", "run_dir", "mean_confusion", "read_distill", "read_inspection", "read_light", "saved_arrays",
    "prepare_dataset", "part2_first_run", "part3_compare", "part3_data_ablations", "part3_imbalance",
    "part3_inspect", "part3_light", "part3_recipe", "part3_transfer", "ChapterResults", "FigureData",
    "chapter_results", "figure_data", "notebook_profile", "part3_rows", "PAPER_TABLE8", "SOURCE_3A",
    "SOURCE_3A_SMALL", "SOURCE_3B_CLAIMS", "EXPERIMENTS", "get_experiment", "Run", "load_runs", "command_for",
    "load_trained_model", "run_experiment", "accuracy_at", "format_table", "knob_rows", "steady_epoch_time",
    "steady_images_per_s", "summarize", "total_minutes",
]
