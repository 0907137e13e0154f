"""`python -m vitcourse preflight`: a one-minute check of a machine before it spends GPU time.

GPU minutes are scarce and the GPU machines run another PyTorch version than the development
machine, so the code paths that only a GPU takes (bf16 autocast, torch.compile, channels-last,
augmentation and attention on the device, safetensors checkpoints there) are exercised on a few
batches first. Each check reports ok or the error that broke it; the command exits non-zero if
any failed, so a chunk script stops before the suite instead of failing in its middle.
"""

from __future__ import annotations

import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from vitcourse.data import PRESETS, GpuAugment, TensorLoader
from vitcourse.data.augment.pipeline import map_params
from vitcourse.models import MultiHeadSelfAttention, ViT, resnet18
from vitcourse.train import TrainConfig, fit


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    seconds: float


def _versions(device: torch.device) -> str:
    import einops
    import numpy
    import safetensors
    import timm

    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return (f"{where}; torch {torch.__version__}, timm {timm.__version__}, einops {einops.__version__}, "
            f"numpy {numpy.__version__}, safetensors {safetensors.__version__}")


def _augmentation(device: torch.device) -> str:
    """The same random parameters give the same batch on the CPU and on the device."""
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (16,), generator=gen)
    worst = 0.0
    for preset in ("deit", "mild_jitter"):
        aug = GpuAugment(PRESETS[preset], (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), 10)
        params = aug.sample(16, (3, 32, 32), torch.Generator().manual_seed(1), "cpu")
        on_cpu, _ = aug.apply(images, labels, params)
        on_device, _ = aug.apply(images.to(device), labels.to(device), map_params(lambda t: t.to(device), params))
        worst = max(worst, (on_device.cpu() - on_cpu).abs().max().item())
    if worst > 1e-3:
        raise AssertionError(f"augmented batches differ by {worst:.2e} between the CPU and {device}")
    return f"deit and mild_jitter presets agree with the CPU (max diff {worst:.1e})"


def _attention(device: torch.device) -> str:
    """The fused kernel (flash / memory-efficient on a GPU) computes what the explicit path does."""
    torch.manual_seed(0)
    attn = MultiHeadSelfAttention(64, 4).to(device).eval()
    x = torch.randn(8, 65, 64, device=device)
    with torch.no_grad():
        attn.fused = False
        explicit = attn(x)
        attn.fused = True
        fused = attn(x)
    diff = (explicit - fused).abs().max().item()
    if diff > 1e-3:
        raise AssertionError(f"fused and explicit attention differ by {diff:.2e} on {device}")
    return f"fused = explicit (max diff {diff:.1e})"


def _training(device: torch.device, compile: bool) -> str:
    """A micro ViT and a narrow ResNet train through `fit` with the full profiles' execution
    settings (bf16, compile, channels-last, class-balanced sampling, the ViT with a weight
    average), stop after two epochs, and resume from the checkpoint to finish the third."""
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (512, 3, 32, 32), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (512,), generator=gen)
    aug = GpuAugment(PRESETS["mild"], (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), 10)
    report = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, model, extra in (("vit", ViT(32, patch_size=4, dim=32, depth=1, heads=2, num_classes=10),
                                    dict(compile=compile, weight_average=0.9)),   # the headline keeps one
                                   ("resnet18", resnet18(width=8), dict(channels_last=True))):
            train = TensorLoader(images, labels, 128, device=device, augment=aug, sampling="class_balanced")
            test = TensorLoader(images[:256], labels[:256], 128, shuffle=False, drop_last=False, device=device,
                                augment=aug.evaluation())
            config = TrainConfig(epochs=3, batch_size=128, warmup_epochs=1, amp="bf16", log_every=1, **extra)
            start = time.perf_counter()
            # Stopped after two epochs (as a time limit stops a chunk), then resumed from the checkpoint.
            first = fit(model, train, test, config, Path(tmp) / name, progress=False, device=device,
                        stop_after_epoch=2)
            log = fit(model, train, test, config, Path(tmp) / name, progress=False, device=device)
            if first["status"] == "finished" or log["status"] != "finished" or len(log["epochs"]) != 3:
                raise AssertionError(f"{name}: status {first['status']} then {log['status']}, "
                                     f"{len(log['epochs'])} epochs after resuming")
            if "weight_average" in extra and log["epochs"][-1].get("avg_test_acc") is None:
                raise AssertionError(f"{name}: the weight average was not tested after resuming")
            report.append(f"{name} {time.perf_counter() - start:.1f}s ({log['device']['amp']}, "
                          f"compile={log['device']['compile']}, channels_last={log['device']['channels_last']})")
    return "; ".join(report)


def run_preflight(device: str | None = None, compile: bool | None = None, training: bool = True) -> list[Check]:
    """Run every check on `device` (default: CUDA when present); `compile` defaults to on for CUDA.
    training=False leaves out the training check (for callers whose next step trains anyway)."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    compile = dev.type == "cuda" if compile is None else compile
    checks: list[tuple[str, Callable[[], str]]] = [
        ("versions", lambda: _versions(dev)),
        ("augmentation on the device", lambda: _augmentation(dev)),
        ("attention kernels", lambda: _attention(dev)),
    ]
    if training:
        checks.append(("training, checkpoint, resume", lambda: _training(dev, compile)))
    results = []
    for name, check in checks:
        start = time.perf_counter()
        try:
            detail, ok = check(), True
        except Exception as err:  # report every failure, then let the caller stop
            detail, ok = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=4)}", False
        results.append(Check(name, ok, detail, time.perf_counter() - start))
    return results


def format_checks(results: list[Check]) -> str:
    lines = [f"[{'ok' if c.ok else 'FAILED'}] {c.name} ({c.seconds:.1f}s): {c.detail}" for c in results]
    failed = [c.name for c in results if not c.ok]
    lines.append("preflight: all checks passed" if not failed else f"preflight FAILED: {', '.join(failed)}")
    return "\n".join(lines)
