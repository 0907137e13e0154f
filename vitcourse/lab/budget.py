"""Estimated GPU-minutes of a full-profile experiment, so chapters can keep the suite in budget.

Training costs about 3x the forward FLOPs (counted by `vitcourse.models.flops`) (forward + backward) per image seen, and every epoch
ends with a forward pass over the 10,000 test images (1x). The sustained rate is an assumption
until `python -m vitcourse bench` has measured the GPU: small models at 32 px are far from peak,
so we assume 60 TFLOP/s in bf16 on an H100 (about 6% of its dense peak). On top of the FLOPs:
  * per run, a fixed start-up (building the model, moving the uint8 dataset to the GPU, first-call
    kernel selection): 6 s -- the suite runs every experiment in one process, so CUDA start-up and
    the dataset decode are paid once per chunk, not per run;
  * per run with ``compile=True``, torch.compile's tracing and code generation: 30 s;
  * per epoch, writing the checkpoint and the log (tens of MB to local disk) and the
    end-of-epoch synchronisation: 0.25 s. (Measured on the 2-core development machine: a
    checkpoint takes 0.06-0.2 s for the 3-5M-parameter ViTs and 0.2-0.6 s for ResNet-18 with its
    11M; loading the cached dataset and building a model take under 0.2 s together.)
All of these are assumptions to be replaced by the first measured GPU logs (each run log records
its setup time, per-epoch times and wall time): `python -m vitcourse calibrate` compares them, and
a GPU window fits them to the logs (`calibrate.fit_rates`). The first window added a term the
assumptions lacked: a fixed cost per training step (launching a small model's many kernels one by
one from Python), about 15 ms for the course's ViTs, which made its runs twice as long as their
FLOPs alone predicted.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from vitcourse.data import PRESETS, long_tailed_counts
from vitcourse.data.augment import AugmentConfig
from vitcourse.models.flops import forward_flops
from vitcourse.train.runlog import planned_epochs

from . import paths
from .build import input_size

ASSUMED_TFLOPS = 60.0
STARTUP_MIN_PER_RUN = 0.1
COMPILE_MIN = 0.5
EPOCH_OVERHEAD_S = 0.25
# GPU augmentation per training image, by kind: crop/flip/jitter ("light") or a RandAugment-style
# policy (about eight colour ops and a warp per layer, on the whole batch). Assumed until measured.
AUGMENT_US_PER_IMAGE = {"none": 0.0, "light": 0.2, "policy": 1.0}
H100_PEAK_TFLOPS = 989.0   # dense bf16: a fitted rate above it is no measurement (the assumption stays)
CIFAR10_TRAIN = 50_000
CIFAR10_TEST = 10_000
CALIBRATION_FILE = "calibration.json"   # beside the full-profile run logs, written by a GPU window


@dataclass(frozen=True)
class Rates:
    """The constants an estimate multiplies the cost terms by: assumed, or measured by a window."""
    tflops: dict[str, float]        # sustained training/test rate per model family ("vit", "resnet18")
    startup_min: float
    compile_min: float
    epoch_s: float
    augment_us: dict[str, float]    # per training image, by augmentation kind
    source: str = "assumed"
    workers: int = 1                # runs that shared the GPU while these rates were measured
    # Fixed milliseconds per training step on top of its FLOPs, per family: launching a small
    # model's many kernels one by one. None assumed; fitted where a family's runs show it.
    step_ms: dict[str, float] = field(default_factory=dict)

    def family_tflops(self, family: str, compiled: bool = False) -> float:
        """The family's rate; a compiled run uses the compiled rate ("vit+compile") once one was
        measured, else the eager one (torch.compile is rarely slower)."""
        return self.tflops.get(_key(self.tflops, family, compiled), self.tflops.get("default", ASSUMED_TFLOPS))

    def family_step_s(self, family: str, compiled: bool = False) -> float:
        """Seconds per step beyond the FLOPs, with the same choice of key: a compiled run's own
        cost once measured, else the eager one (an upper bound: compiling fuses kernels)."""
        return self.step_ms.get(_key(self.tflops, family, compiled), 0.0) / 1000


def _key(table: dict, family: str, compiled: bool) -> str:
    return f"{family}+compile" if compiled and f"{family}+compile" in table else family


ASSUMED = Rates({"default": ASSUMED_TFLOPS}, STARTUP_MIN_PER_RUN, COMPILE_MIN, EPOCH_OVERHEAD_S,
                dict(AUGMENT_US_PER_IMAGE))


def calibration_path():
    return paths.results_root("full") / CALIBRATION_FILE


def current_rates() -> Rates:
    """The measured rates of data/results/calibration.json when a GPU window has written it, else
    the assumptions above. A file that does not parse or lacks a field is refused by name."""
    path = calibration_path()
    if not path.is_file():
        return ASSUMED
    try:
        data = json.loads(path.read_text())
        rates = Rates({k: float(v) for k, v in data["tflops"].items()}, float(data["startup_min"]),
                      float(data["compile_min"]), float(data["epoch_s"]),
                      {**AUGMENT_US_PER_IMAGE, **{k: float(v) for k, v in data["augment_us"].items()}},
                      f"{path.name} ({data['device']}, {data['runs']} runs)", int(data.get("workers", 1)),
                      {k: float(v) for k, v in data.get("step_ms", {}).items()})
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{path} is not a valid calibration ({type(err).__name__}: {err}): restore it "
                         f"from git, or delete it to estimate with the assumed constants.") from None
    if (min(rates.tflops.values(), default=0) <= 0 or min(rates.step_ms.values(), default=0) < 0
            or min(rates.startup_min, rates.compile_min, rates.epoch_s) < 0):
        raise ValueError(f"{path}: rates must be positive and times non-negative; restore it from git or "
                         f"delete it to estimate with the assumed constants.")
    return rates


def augment_kind(augment) -> str:
    """"policy" for RandAugment-style augmentation (and the presets that include it), "none"
    without any, else "light" (crop, flip, jitter, mixing)."""
    config = AugmentConfig.parse(augment)
    if config.policy not in (None, "none"):
        return "policy"
    return "none" if config == PRESETS["none"] else "light"


def images_per_epoch(data: dict, train_size: int = CIFAR10_TRAIN) -> float:
    """Training images one epoch sees: the subset's size, not the full set's."""
    per_epoch = train_size
    if "imbalance" in data:  # a long-tailed set is much smaller than the full one (12,406 at ratio 100)
        per_epoch = sum(long_tailed_counts(train_size // 10, 10, data["imbalance"]))
    return per_epoch * data.get("fraction", 1.0)


@dataclass(frozen=True)
class CostTerms:
    """What one run of a spec costs, before any assumed rate: the quantities the estimate (and
    `calibrate`, fitting the rates to measured logs) multiplies by its constants."""
    tflop: float        # training (3x forward) and test passes (1x), in 10^12 FLOPs
    epochs: int
    compile: bool
    family: str = "vit"              # the model's arch: rates are measured per family
    augmented_images: float = 0.0    # training images through the GPU augmentation
    augment: str = "none"            # its kind (see augment_kind)
    time_budget_min: float | None = None   # a run that trains as many epochs as fit this many minutes
    steps: float = 0.0   # training steps, plus test batches at a third (forward only)

    def minutes(self, tflops: float = ASSUMED_TFLOPS, startup_min: float = STARTUP_MIN_PER_RUN,
                compile_min: float = COMPILE_MIN, epoch_s: float = EPOCH_OVERHEAD_S,
                augment_us: float | None = None, step_s: float = 0.0) -> float:
        """Minutes at these constants (the defaults are the assumptions)."""
        augment_us = AUGMENT_US_PER_IMAGE[self.augment] if augment_us is None else augment_us
        seconds = (self.tflop / tflops + self.steps * step_s + epoch_s * self.epochs
                   + self.augmented_images * augment_us * 1e-6)
        minutes = seconds / 60 + (compile_min if self.compile else 0.0)
        if self.time_budget_min is not None:   # compilation happens inside the budget
            minutes = min(minutes, self.time_budget_min)
        return minutes + startup_min

    def estimate(self, rates: Rates) -> float:
        augment_us = rates.augment_us.get(self.augment, 0.0)
        if self.compile:   # compiled augmentation, once measured (else the eager cost: an upper bound)
            augment_us = rates.augment_us.get(f"{self.augment}+compile", augment_us)
        return self.minutes(rates.family_tflops(self.family, self.compile), rates.startup_min, rates.compile_min,
                            rates.epoch_s, augment_us, rates.family_step_s(self.family, self.compile))


def cost_terms(spec: dict, train_size: int = CIFAR10_TRAIN, image_size: int = 32) -> CostTerms:
    """The cost terms of one run of a resolved full profile {"model", "data", "train"}."""
    images, tests, per_image = _passes(spec, train_size, image_size)
    flops = per_image * (3 * images + CIFAR10_TEST * tests)
    kind = augment_kind(spec["data"].get("augment"))
    train = spec["train"]
    batch = train["batch_size"]
    steps = (images_per_epoch(spec["data"], train_size) // batch * train["epochs"]   # last batch dropped
             + tests * math.ceil(CIFAR10_TEST / batch) / 3)
    return CostTerms(flops / 1e12, train["epochs"], bool(train.get("compile")),
                     spec["model"].get("arch", "vit"), images if kind != "none" else 0.0, kind,
                     train.get("time_budget_min"), steps)


def trained_spec(spec: dict, log: dict) -> dict:
    """The spec of what a run trained: a run with a time budget as the plain run of the epochs it
    decided on (what its measured minutes are compared with)."""
    if "time_budget" not in log:
        return spec
    train = {k: v for k, v in spec["train"].items() if k != "time_budget_min"}
    return {**spec, "train": {**train, "epochs": planned_epochs(log)}}


def test_passes(train: dict) -> int:
    """Epochs that end with a test pass: every `eval_every`-th and the last."""
    epochs, every = train["epochs"], train.get("eval_every", 1)
    return epochs // every + (1 if epochs % every else 0)


def _passes(spec: dict, train_size: int, image_size: int) -> tuple[float, int, float]:
    """(training images seen, test passes over the 10,000 test images, forward FLOPs per image)."""
    data = spec["data"]
    evaluate = (spec.get("task") or {}).get("name", "classify") not in NO_TEST_PASS
    images = images_per_epoch(data, train_size) * spec["train"]["epochs"]
    tests = test_passes(spec["train"]) if evaluate else 0
    return images, tests, forward_flops(spec["model"], input_size(data, image_size))


# The cpu profile's cost on a 2-core laptop-class CPU (fp32, eager). Fitted to two measured
# training throughputs on the development machine (2-core Xeon, fp32, eager): ViT p4 D=128 depth 6 at
# batch 256 (302 img/s) and ViT p4 D=64 depth 4 (844 img/s): time per training image = training
# FLOPs / 133 GFLOP/s + 0.69 ms of per-image overhead that small models cannot hide; a test image
# costs a third of both. Checked against the cpu run logs on the reproducing page.
CPU_TFLOPS = 0.133
CPU_IMAGE_OVERHEAD_S = 0.69e-3
CPU_STARTUP_MIN = 0.1


def estimate_cpu_minutes(spec: dict, seeds: int = 1, train_size: int = CIFAR10_TRAIN,
                         image_size: int = 32) -> float:
    """Minutes on two CPU cores for all seeds of a resolved cpu profile."""
    images, tests, per_image = _passes(spec, train_size, image_size)
    seen = images + CIFAR10_TEST * tests / 3
    seconds = seen * (3 * per_image / (CPU_TFLOPS * 1e12) + CPU_IMAGE_OVERHEAD_S)
    return seeds * (seconds / 60 + CPU_STARTUP_MIN)


def experiment_cpu_minutes(exp) -> float:
    if not exp.has_profile("cpu"):
        return 0.0
    return estimate_cpu_minutes(exp.profile("cpu"), seeds=len(exp.seeds_for("cpu")))


def estimate_gpu_minutes(spec: dict, seeds: int = 1, train_size: int = CIFAR10_TRAIN,
                         image_size: int = 32, rates: Rates | None = None) -> float:
    """Minutes on one H100 for all seeds of a resolved full profile {"model", "data", "train"}, at
    `rates` (default: the measured calibration when there is one, else the assumptions)."""
    return seeds * cost_terms(spec, train_size, image_size).estimate(rates or current_rates())


# Tasks whose runs train without a test pass (their TaskSetup has evaluate=False).
NO_TEST_PASS = frozenset({"mae_pretrain", "mpp_pretrain", "rotation_pretrain", "supervised_pretrain"})


def experiment_gpu_minutes(exp, rates: Rates | None = None) -> float:
    return estimate_gpu_minutes(exp.profile("full"), seeds=len(exp.seeds_for("full")), rates=rates)


def plan_epochs(spec: dict, minutes: float, seeds: int = 1, multiple: int = 1, rates: Rates | None = None) -> int:
    """The most epochs (a multiple of `multiple`) whose estimated H100 minutes stay <= `minutes`.

    The estimate is nearly linear in the epoch count plus a fixed overhead per run, so it is solved
    directly, then corrected by whole steps; raises if even `multiple` epochs do not fit.
    """
    def minutes_for(epochs: int) -> float:
        return estimate_gpu_minutes({**spec, "train": {**spec["train"], "epochs": epochs}}, seeds, rates=rates)

    fixed = minutes_for(0)
    per_epoch = minutes_for(1) - fixed
    epochs = int((minutes - fixed) / per_epoch) // multiple * multiple
    # Test passes every `eval_every` epochs make the estimate a staircase: settle on the exact answer.
    while epochs >= multiple and minutes_for(epochs) > minutes:
        epochs -= multiple
    while minutes_for(epochs + multiple) <= minutes:
        epochs += multiple
    if epochs < multiple:
        raise ValueError(f"not even {multiple} epoch(s) fit in {minutes} estimated minutes "
                         f"(overhead {fixed:.2f} min, {per_epoch:.3f} min per epoch)")
    return epochs
