"""`python -m vitcourse bench`: training throughput of the same ViT in the ways the book compares.

For one config, batch and device it measures training images/s (forward, backward, AdamW step)
of vitcourse's ViT vs timm's VisionTransformer with identical weights, eager vs torch.compile,
explicit vs fused attention, and the GPU input pipeline's images/s against the model's.
It also measures the aggregate rate of one training process against several at once on the same
device: small models leave an H100 mostly idle, and a GPU window runs its small runs side by side
(`--workers`) where that raises the aggregate.
Targets (not asserted anywhere): vitcourse/timm >= 1.0; pipeline/model well above 1 on an H100.
"""

from __future__ import annotations

import json
import multiprocessing
import queue as queue_module
import re
import time
from pathlib import Path

import torch

from vitcourse.data import AugmentConfig, GpuAugment, TensorLoader
from vitcourse.light.speed import synchronize, train_images_per_s
from vitcourse.models import ViT, to_timm
from vitcourse.train.environment import current_command, device_name, git_info, versions

from . import paths
from .registry import get_experiment

DEFAULT_MODEL = dict(image_size=32, patch_size=4, num_classes=10, dim=192, depth=6, heads=3, mlp_ratio=2.0)
SHAPE_KEYS = ("patch_size", "dim", "depth", "heads", "mlp_ratio")   # what sets a ViT's speed


def experiment_model(name: str) -> tuple[dict, int]:
    """(model_kw, batch) of a registered ViT experiment's full profile, to bench its shape."""
    spec = get_experiment(name).profile("full")
    if spec["model"].get("arch", "vit") != "vit":
        raise ValueError(f"{name!r} trains a {spec['model']['arch']}: the bench measures ViTs; name a ViT "
                         f"experiment (e.g. recipe_7_long)")
    return {k: spec["model"][k] for k in SHAPE_KEYS if k in spec["model"]}, spec["train"]["batch_size"]


def pipeline_images_per_s(device, batch, steps, augment="deit"):
    images = torch.randint(0, 256, (batch * (steps + 1), 3, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 10, (len(images),))
    aug = GpuAugment(AugmentConfig.parse(augment), mean=(0.5,) * 3, std=(0.25,) * 3, num_classes=10, train=True)
    loader = TensorLoader(images, labels, batch, device=device, augment=aug)
    loader.set_epoch(0)
    it = iter(loader)
    next(it)  # warm-up batch
    synchronize(device)
    t0 = time.perf_counter()
    n = 0
    for xb, _ in it:
        n += len(xb)
    synchronize(device)
    return n / (time.perf_counter() - t0)


def _one_process(device: str, cfg: dict, batch: int, steps: int, threads: int | None, start, queue) -> None:
    """A worker of `aggregate_images_per_s`: warm up, wait for the others, then time `steps` steps."""
    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(device)
    model = ViT(**cfg)
    train_images_per_s(model, dev, batch, 1, warmup=2, amp=dev.type == "cuda")
    start.wait()
    queue.put(train_images_per_s(model, dev, batch, steps, warmup=0, amp=dev.type == "cuda"))


def aggregate_images_per_s(device: torch.device, cfg: dict, batch: int, steps: int, processes: int) -> float:
    """Training images/s summed over `processes` processes training the same model at once on
    `device` (on a CPU each gets an equal share of the cores)."""
    ctx = multiprocessing.get_context("spawn")   # CUDA cannot be used in a forked child
    start, queue = ctx.Barrier(processes), ctx.Queue()
    threads = max(torch.get_num_threads() // processes, 1) if device.type == "cpu" else None
    workers = [ctx.Process(target=_one_process, args=(str(device), cfg, batch, steps, threads, start, queue))
               for _ in range(processes)]
    for w in workers:
        w.start()
    rates: list[float] = []
    while len(rates) < processes:
        try:
            rates.append(queue.get(timeout=1.0))
        except queue_module.Empty:
            dead = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
            if dead:   # a worker that crashed never reports: say so instead of waiting
                for w in workers:
                    w.kill()
                raise RuntimeError(
                    f"a benchmark worker process exited with code {dead[0]}: run the benchmark as "
                    "`python -m vitcourse bench` or from a script file (worker processes re-import "
                    "the main module, which a script read from stdin does not have)") from None
    for w in workers:
        w.join()
    return sum(rates)


def run_bench(device: str | None = None, batch: int | None = None, steps: int | None = None,
              compile: bool | None = None, out_dir: Path | None = None, model_kw: dict | None = None,
              rounds: int = 3, concurrency: tuple[int, ...] | None = None) -> dict:
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = dev.type == "cuda"
    # On a GPU up to 4 at once: the first window's small ViTs were bound by launching kernels
    # (about 15 ms a step whatever the batch), which more processes could overlap.
    concurrency = concurrency or ((1, 2, 4) if cuda else (1, 2))
    batch = batch or (1024 if cuda else 64)
    steps = steps or (50 if cuda else 5)
    compile = cuda if compile is None else compile
    cfg = dict(DEFAULT_MODEL, **(model_kw or {}))
    torch.manual_seed(0)
    ours = ViT(**cfg)
    theirs = to_timm(ours)  # same function, same weights

    explicit = ViT(**{**cfg, "fused_attention": False})
    models = {"vitcourse_eager": ours, "timm_eager": theirs, "vitcourse_explicit_attention": explicit}
    if compile:
        models["vitcourse_compiled"] = torch.compile(ViT(**cfg))
        models["timm_compiled"] = torch.compile(to_timm(ViT(**cfg)))
    # Whichever model is measured first pays for allocator and thread-pool warm-up, which skewed a
    # single pass by ~10% on CPU: measure in alternating rounds and keep each model's best round.
    results = {name: 0.0 for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            speed = train_images_per_s(model, dev, batch, steps, warmup=3, amp=cuda)
            results[name] = max(results[name], speed)
    results["pipeline"] = pipeline_images_per_s(dev, batch, steps)
    for processes in concurrency:
        results[f"aggregate_{processes}_processes"] = aggregate_images_per_s(dev, cfg, batch, steps, processes)
    ratios = {
        "vitcourse / timm (eager)": results["vitcourse_eager"] / results["timm_eager"],
        "fused / explicit attention": results["vitcourse_eager"] / results["vitcourse_explicit_attention"],
        "pipeline / model": results["pipeline"] / results["vitcourse_eager"],
    }
    one = min(concurrency)
    for many in sorted(set(concurrency) - {one}):
        ratios[f"{many} processes / {one} (aggregate)"] = (results[f"aggregate_{many}_processes"]
                                                           / results[f"aggregate_{one}_processes"])
    if compile:
        ratios["compiled / eager"] = results["vitcourse_compiled"] / results["vitcourse_eager"]
        ratios["vitcourse / timm (compiled)"] = results["vitcourse_compiled"] / results["timm_compiled"]
    report = {
        "device": device_name(dev), "device_type": dev.type, "batch": batch, "steps": steps, "rounds": rounds,
        "amp": "bf16" if cuda else "none", "model": cfg, "images_per_s": results, "ratios": ratios,
        "versions": versions(), "git": git_info(),
        "command": current_command(),
    }
    out_dir = Path(out_dir) if out_dir else paths.results_root("full") / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", report["device"].lower()).strip("-") or "device"
    path = out_dir / f"{slug}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    report["path"] = str(path)
    return report


def format_report(report: dict) -> str:
    lines = [f"device: {report['device']}  batch {report['batch']}  amp {report['amp']}",
             "training images/s:"]
    lines += [f"  {k:32s} {v:12,.0f}" for k, v in report["images_per_s"].items()]
    lines.append("ratios:")
    lines += [f"  {k:32s} {v:12.2f}" for k, v in report["ratios"].items()]
    lines.append(f"written to {report['path']}")
    return "\n".join(lines)
