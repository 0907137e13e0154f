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
its setup time, per-epoch times and wall time): `python -m vitcourse calibrate` compares them and
fits the four constants to the logs.
"""

from __future__ import annotations

from dataclasses import dataclass

from vitcourse.data import long_tailed_counts
from vitcourse.models.flops import forward_flops

from .build import input_size

ASSUMED_TFLOPS = 60.0
STARTUP_MIN_PER_RUN = 0.1
COMPILE_MIN = 0.5
EPOCH_OVERHEAD_S = 0.25
CIFAR10_TRAIN = 50_000
CIFAR10_TEST = 10_000


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

    def minutes(self, tflops: float = ASSUMED_TFLOPS, startup_min: float = STARTUP_MIN_PER_RUN,
                compile_min: float = COMPILE_MIN, epoch_s: float = EPOCH_OVERHEAD_S) -> float:
        seconds = self.tflop / tflops + epoch_s * self.epochs
        return seconds / 60 + startup_min + (compile_min if self.compile else 0.0)


def cost_terms(spec: dict, train_size: int = CIFAR10_TRAIN, image_size: int = 32) -> CostTerms:
    """The cost terms of one run of a resolved full profile {"model", "data", "train"}."""
    images, tests, per_image = _passes(spec, train_size, image_size)
    flops = per_image * (3 * images + CIFAR10_TEST * tests)
    return CostTerms(flops / 1e12, spec["train"]["epochs"], bool(spec["train"].get("compile")))


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
                         image_size: int = 32) -> float:
    """Minutes on one H100 for all seeds of a resolved full profile {"model", "data", "train"}."""
    return seeds * cost_terms(spec, train_size, image_size).minutes()


# Tasks whose runs train without a test pass (their TaskSetup has evaluate=False).
NO_TEST_PASS = frozenset({"mae_pretrain", "mpp_pretrain", "rotation_pretrain", "supervised_pretrain"})


def experiment_gpu_minutes(exp) -> float:
    return estimate_gpu_minutes(exp.profile("full"), seeds=len(exp.seeds_for("full")))


def plan_epochs(spec: dict, minutes: float, seeds: int = 1, multiple: int = 1) -> int:
    """The most epochs (a multiple of `multiple`) whose estimated H100 minutes stay <= `minutes`.

    The estimate is linear in the epoch count plus a fixed overhead per run, so it is solved
    directly; raises if even `multiple` epochs do not fit.
    """
    def minutes_for(epochs: int) -> float:
        return estimate_gpu_minutes({**spec, "train": {**spec["train"], "epochs": epochs}}, seeds)

    fixed = minutes_for(0)
    per_epoch = minutes_for(1) - fixed
    epochs = int((minutes - fixed) / per_epoch) // multiple * multiple
    if epochs < multiple:
        raise ValueError(f"not even {multiple} epoch(s) fit in {minutes} estimated minutes "
                         f"(overhead {fixed:.2f} min, {per_epoch:.3f} min per epoch)")
    return epochs
