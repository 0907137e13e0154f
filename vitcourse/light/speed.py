"""How fast does the same ViT train? Explicit vs fused attention, fp32 vs bf16, eager vs
torch.compile, and the batch size: training images/s, peak GPU memory and MFU.

Each configuration changes one thing against a baseline (fused attention, bf16 autocast on a GPU,
eager, batch 512), so every comparison isolates one effect. The step itself (forward, backward,
AdamW) is `train_images_per_s` below, the same one `python -m vitcourse bench`
times. Weights do not change speed, so each configuration gets a freshly built model.
"""

from __future__ import annotations

import gc
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from vitcourse.models import ViT
from vitcourse.models.flops import vit_flops
from vitcourse.train.environment import device_name

from .mfu import mfu, peak_flops


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_images_per_s(model, device, batch, steps, warmup, amp):
    """Training images/s of `model` on random 32-px batches (forward, backward, AdamW step)."""
    model = model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if amp else torch.autocast(device.type, enabled=False)

    def step():
        with ctx:
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    synchronize(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return batch * steps / (time.perf_counter() - t0)


@dataclass(frozen=True)
class SpeedConfig:
    attention: str = "fused"      # or "explicit"
    dtype: str = "bf16"           # or "fp32"
    compiled: bool = False
    batch: int = 512

    @property
    def label(self) -> str:
        return f"{self.attention}, {self.dtype}, {'compiled' if self.compiled else 'eager'}, batch {self.batch}"


def default_configs(device: torch.device) -> list[SpeedConfig]:
    """The GPU sweep; on a CPU a small one (fp32, eager: bf16 autocast and compilation on a CPU
    say little about a GPU and take minutes)."""
    if device.type != "cuda":
        return [SpeedConfig("fused", "fp32", False, 32), SpeedConfig("explicit", "fp32", False, 32),
                SpeedConfig("fused", "fp32", False, 64)]
    base = SpeedConfig()
    batches = [SpeedConfig(batch=b) for b in (128, 256, 1024, 2048)]
    return [base, SpeedConfig(attention="explicit"), SpeedConfig(dtype="fp32"), SpeedConfig(compiled=True)] + batches


def measure(config: dict, speed: SpeedConfig, device: torch.device, steps: int, warmup: int) -> dict:
    """One configuration: images/s, peak memory (GPU only) and MFU of training `ViT(**config)`."""
    cuda = device.type == "cuda"
    if cuda:  # what is already resident (e.g. the dataset of the run that calls us) is not this model's
        gc.collect()
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(0)
    model = ViT(**{**config, "fused_attention": speed.attention == "fused"})
    flops = vit_flops(model)
    net = torch.compile(model) if speed.compiled else model
    ips = train_images_per_s(net, device, speed.batch, steps, warmup, amp=speed.dtype == "bf16")
    # Peak of weights, gradients, AdamW state and activations; fp32 means true fp32 matmuls
    # (PyTorch leaves TF32 off for them unless asked).
    peak_mem = torch.cuda.max_memory_allocated(device) - base if cuda else None
    name = device_name(device)
    util = mfu(ips, flops, peak_flops(name, speed.dtype))
    del net, model
    gc.collect()
    return {**asdict(speed), "label": speed.label, "images_per_s": ips, "peak_memory_bytes": peak_mem,
            "forward_gflops": flops / 1e9, "achieved_tflops": 3 * flops * ips / 1e12, "mfu": util,
            "device": name}


def speed_sweep(config: dict, device: str | torch.device | None = None, configs=None,
                steps: int | None = None, warmup: int | None = None) -> list[dict]:
    """Measure every configuration (default: `default_configs`) for the ViT built from `config`."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = dev.type == "cuda"
    rows = []
    for speed in configs or default_configs(dev):
        rows.append(measure(config, speed, dev, steps or (30 if cuda else 3), warmup or (5 if cuda else 1)))
    return rows


def rows_to_arrays(rows: list[dict]) -> dict[str, np.ndarray]:
    """Column arrays for an .npz file; NaN marks what was not measured (memory and MFU on a CPU)."""
    def col(key):
        return np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=np.float64)
    def text(key):
        return np.array([r[key] for r in rows], dtype=np.str_)
    return {"speed_label": text("label"), "speed_attention": text("attention"), "speed_dtype": text("dtype"),
            "speed_compiled": np.array([r["compiled"] for r in rows], dtype=bool),
            "speed_batch": np.array([r["batch"] for r in rows], dtype=np.int64),
            "speed_images_per_s": col("images_per_s"), "speed_peak_memory_bytes": col("peak_memory_bytes"),
            "speed_achieved_tflops": col("achieved_tflops"), "speed_mfu": col("mfu"),
            "speed_device": np.array(rows[0]["device"] if rows else "", dtype=np.str_)}
