"""The lab: the machinery that runs the book's experiments, beside the course it runs.

The course (`vitcourse.models`, `data`, `train`, `pretrain`, `interpret`, `light`, `plots`) is
what students read; the lab imports it, and nothing outside the lab imports the lab (the
`python -m vitcourse` entry point aside). Chapters reach it through one module,
`vitcourse.lab.chapter`.

- `catalog/`: every experiment of the book (a smoke and a full profile each), as data, in suite order;
  `experiment` defines what an experiment is, `registry` names them.
- `runner`: run one experiment through the course's `fit` and log it; `build` builds the
  dataset and model a spec names; `tasks/`: what a run does beyond plain classification;
  `stale`: a saved run only counts while its spec is the current one.
- `results` (run logs) and `arrays` (the small .npz files runs save), both validated on reading.
- `suite`, `budget`, `calibrate`: run pending experiments within an estimated GPU budget.
- `chapter_results`, `summaries`, `published`, `part3_table`: what the chapters plot and print.
- `preflight`, `bench`, `cli`: the command line (`python -m vitcourse ...`).
"""

from .experiment import PROFILES, Experiment
from .registry import EXPERIMENTS, get_experiment, register
from .results import Run, load_runs, validate_run_log
from .runner import command_for, load_trained_model, run_experiment
from .build import prepare_dataset
from .suite import pending, run_suite

__all__ = ["EXPERIMENTS", "Experiment", "PROFILES", "Run", "command_for", "get_experiment", "load_runs",
           "load_trained_model", "pending", "prepare_dataset", "register", "run_experiment", "run_suite",
           "validate_run_log"]
