"""The summary table of Part III: parameters, FLOPs, accuracy, GPU throughput and CPU latency of
the models the part trains (`vitcourse.lab.part3_table` fills its rows from the experiment
catalog and the run logs; this module measures a model and prints the table).

Parameters and FLOPs are properties of the full-profile model (built with random weights). CPU
latency is measured live (batch 1, random weights: weights do not change the time), for models
cheap enough to time on the reader's CPU. A value without a result yet prints as "pending".
"""

from __future__ import annotations

from vitcourse.models.flops import forward_flops, model_flops

from .measure import cpu_latency_ms

PENDING = "pending"


def measure_model(model, shape: tuple[int, int, int], model_spec: dict, cpu_latency: bool = True,
                  max_cpu_gflops: float = 3.0) -> dict:
    """Parameters, forward GFLOPs and (for models under `max_cpu_gflops`) CPU latency of `model`
    for inputs of `shape` (C, H, W); `model_spec` counts the backbone of a wrapper whose modules
    cannot be read (e.g. an autoencoder)."""
    out = {"params": sum(p.numel() for p in model.parameters())}
    try:
        out["gflops"] = model_flops(model, shape[-1]) / 1e9
    except TypeError:  # a wrapper we cannot read: the spec's backbone
        out["gflops"] = forward_flops(model_spec, shape[-1]) / 1e9
    if cpu_latency and out["gflops"] <= max_cpu_gflops:
        out["cpu_latency_ms"] = cpu_latency_ms(model, shape, batch=1, repeats=5, warmup=1)
    return out


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
