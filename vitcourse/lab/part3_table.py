"""The rows of Part III's summary table, from the experiment catalog and whatever run logs exist.

Parameters and FLOPs come from the full-profile model, built here with random weights through
the experiment's task (so wrappers such as a distillation token are counted). Accuracy and GPU
throughput come only from finished full-profile run logs; where there are none the row says
"pending" instead of showing anything else. `vitcourse.light.table` measures and prints.
"""

from __future__ import annotations

import json
import statistics

import torch

from vitcourse.data import SPECS
from vitcourse.light.table import PENDING, measure_model

from .build import input_size
from .registry import EXPERIMENTS
from .results import load_runs
from .runner import task_module


def _full_model(exp):
    """The full-profile module an experiment trains, structure only (CPU, random weights)."""
    spec = exp.profile("full")
    data = SPECS[spec["data"]["dataset"]]
    channels, height, _ = data.image_shape
    size = input_size(spec["data"], height)
    torch.manual_seed(0)
    model = task_module(spec, len(data.classes), data.image_shape, "full", 0)
    return model.eval(), (channels, size, size), spec


def _gpu_images_per_s(run) -> float:
    """Training images/s of one run: the median epoch, leaving out the first (compilation, warm-up)."""
    values = run.series("images_per_s")
    return statistics.median(values[1:] if len(values) > 1 else values)


def part3_rows(chapter_prefix: str = "Part III", cpu_latency: bool = True, max_cpu_gflops: float = 3.0,
               problems: list[str] | None = None) -> list[dict]:
    """One row per registered experiment whose chapter starts with `chapter_prefix`."""
    rows, measured = [], {}
    for name, exp in EXPERIMENTS.items():
        if not exp.chapter.startswith(chapter_prefix):
            continue
        row = {"experiment": name, "chapter": exp.chapter, "params": None, "gflops": None,
               "accuracy": PENDING, "gpu_images_per_s": PENDING, "gpu_device": None,
               "cpu_latency_ms": None, "seeds": 0}
        # Many experiments share an architecture (they differ in data or recipe): build and time it once.
        spec = exp.profile("full")
        key = json.dumps([spec["model"], spec["data"].get("augment"), spec.get("task")], sort_keys=True, default=str)
        try:
            if key not in measured:
                model, shape, spec = _full_model(exp)
                measured[key] = measure_model(model, shape, spec["model"], cpu_latency, max_cpu_gflops)
            row.update(measured[key])
        except Exception as err:  # one unusual experiment must not take the whole table down
            if problems is not None:
                problems.append(f"{name}: could not build the full model ({type(err).__name__}: {err})")
        runs = load_runs(name, "full", problems=problems)
        if runs:
            row["seeds"] = len(runs)
            row["accuracy"] = statistics.mean(r.final_test_acc for r in runs)
            row["gpu_images_per_s"] = statistics.mean(_gpu_images_per_s(r) for r in runs)
            row["gpu_device"] = runs[0].log["device"]["name"]
        rows.append(row)
    return rows
