"""Every experiment of the book, one module per chapter, as one list in suite order: the
experiments whose plots matter most come first, so a short GPU budget is spent on them, and every
pre-training comes before the runs that start from it."""

from ..experiment import Experiment
from .core_set import with_core_tags
from .cpu_scale import with_cpu_profiles
from . import (part2_first_run, part3_compare, part3_data_ablations, part3_imbalance, part3_inspect, part3_light,
               part3_recipe, part3_transfer)

# cpu_scale gives the chapters' main experiments their cpu profile, core_set tags the runs a GPU
# window does first; each is one file.
CATALOG: list[Experiment] = with_core_tags(with_cpu_profiles([
    *part2_first_run.EXPERIMENTS,
    *part3_recipe.EXPERIMENTS,
    *part3_compare.EXPERIMENTS,
    *part3_data_ablations.EXPERIMENTS,
    *part3_inspect.EXPERIMENTS,
    *part3_light.EXPERIMENTS,
    *part3_transfer.EXPERIMENTS,
    *part3_imbalance.EXPERIMENTS,
]))
