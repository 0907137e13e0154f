"""The summary table of Part III: parameters, FLOPs, accuracy, GPU throughput and CPU latency of
every model the part trains, built from the experiment registry and whatever run logs exist.

Parameters and FLOPs are properties of the full-profile model (built here with random weights,
through the experiment's task so wrappers such as a distillation token are counted). Accuracy
and GPU throughput come only from finished full-profile run logs; where there are none the row
says "pending" instead of showing anything else. CPU latency is measured live (batch 1, random
weights: weights do not change the time), for models cheap enough to time on the reader's CPU.
"""

from __future__ import annotations

import json
import statistics

import torch

from vitcourse.experiments.budget import forward_flops as budget_flops

from .flops import model_flops
from .measure import cpu_latency_ms

PENDING = "pending"


def _full_model(exp):
    """The full-profile module an experiment trains, structure only (CPU, random weights)."""
    from vitcourse.data.specs import SPECS
    from vitcourse.experiments.runner import input_size, task_module

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


def _measure(exp, cpu_latency: bool, max_cpu_gflops: float) -> dict:
    model, shape, spec = _full_model(exp)
    out = {"params": sum(p.numel() for p in model.parameters())}
    try:
        out["gflops"] = model_flops(model, shape[-1]) / 1e9
    except TypeError:  # a wrapper we cannot read (e.g. an autoencoder): the spec's backbone
        out["gflops"] = budget_flops(spec["model"], shape[-1]) / 1e9
    if cpu_latency and out["gflops"] <= max_cpu_gflops:
        out["cpu_latency_ms"] = cpu_latency_ms(model, shape, batch=1, repeats=5, warmup=1)
    return out


def part3_rows(chapter_prefix: str = "Part III", cpu_latency: bool = True, max_cpu_gflops: float = 3.0,
               problems: list[str] | None = None) -> list[dict]:
    """One row per registered experiment whose chapter starts with `chapter_prefix`."""
    from vitcourse.experiments import EXPERIMENTS, load_runs

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
                measured[key] = _measure(exp, cpu_latency, max_cpu_gflops)
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


def format_rows(rows: list[dict], latency: bool = True) -> str:
    """A plain-text table (the book renders stored notebook output as text)."""
    def cell(value, fmt):
        return value if isinstance(value, str) else ("n/a" if value is None else format(value, fmt))

    header = f"{'experiment':30s} {'params':>10s} {'GFLOPs':>8s} {'test acc':>9s} {'GPU train img/s':>16s}"
    header += f" {'CPU ms (b=1)':>13s}" if latency else ""
    lines = [header, "-" * len(header)]
    for r in rows:
        acc = r["accuracy"] if isinstance(r["accuracy"], str) else f"{100 * r['accuracy']:.2f}%"
        line = (f"{r['experiment']:30s} {cell(r['params'], ',d'):>10s} {cell(r['gflops'], '.3f'):>8s} "
                f"{acc:>9s} {cell(r['gpu_images_per_s'], ',.0f'):>16s}")
        if latency:
            line += f" {cell(r['cpu_latency_ms'], '.2f'):>13s}"
        lines.append(line)
    return "\n".join(lines)
