"""`GpuAugment`: the whole augmentation pipeline for uint8 batches on any device.

It works in two steps so that sharded (multi-GPU) training sees exactly the augmentation a
single process would: ``sample`` draws the random parameters of every position of the *global*
batch from a seeded generator (cheap vectors), and ``apply`` transforms only the images this
process needs, reading their parameters by global position. Calling the object does both for
a plain, unsharded batch.

``compile=True`` runs the per-image part through ``torch.compile``: on a GPU, RandAugment's
whole-batch ops are many small kernels, and fusing them is what makes the policy cheap there
(the first GPU window measured it at about a fifth of a recipe epoch, eager). Compilation costs
tens of seconds, so only compiled training runs use it; if it fails, the eager path runs instead,
with a warning.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch

from .config import AugmentConfig
from .color import jitter, sample_jitter
from .erasing import erase, sample_erasing
from .geometry import crop_flip, resize, resized_crop, sample_resized_crop
from .mixing import mix, sample_mixing
from .policy import RANGES, apply_layer, sample_layer

Params = dict[str, Any]


@dataclass
class BatchPlan:
    """Which global batch positions one process transforms, and how they pair up for mixing.

    ``positions``: global positions of the images to transform; ``own``: rows of those that are
    this process's output; ``partner``: for each ``own`` row, the row of its mixing partner.
    ``whole``: a single process's plan (everything, in order), which lets ``apply`` skip copies.
    """

    positions: torch.Tensor
    own: torch.Tensor
    partner: torch.Tensor | None
    whole: bool = False


def plan_batch(batch_len: int, rank: int, world_size: int, mixing: bool,
               device: torch.device | str = "cpu") -> BatchPlan:
    """Rank ``rank`` outputs global positions ``rank::world_size``; with mixing it also needs
    their partners (position p pairs with ``batch_len - 1 - p``)."""
    own_pos = torch.arange(rank, batch_len, world_size)
    whole = world_size == 1
    if not mixing:
        return BatchPlan(own_pos.to(device), torch.arange(len(own_pos), device=device), None, whole)
    partner_pos = batch_len - 1 - own_pos
    positions = torch.unique(torch.cat([own_pos, partner_pos]))  # sorted
    own = torch.searchsorted(positions, own_pos)
    partner = torch.searchsorted(positions, partner_pos)
    return BatchPlan(positions.to(device), own.to(device), partner.to(device), whole)


class GpuAugment:
    """Turns uint8 ``N x C x H x W`` batches into normalised float batches (and targets).

    ``config``: an ``AugmentConfig`` (``AugmentConfig.parse`` makes one from a preset name or a
    dict; ``PRESETS["none"]`` has no random ops).
    ``mean``/``std``: the dataset's per-channel statistics in [0, 1] units.
    ``train=False`` gives the evaluation transform: normalise and resize only, hard labels.
    Targets are the int64 labels, unless mixing is on (train only): then float ``N x K`` soft
    targets whose rows sum to 1.
    """

    def __init__(self, config: AugmentConfig, mean, std, num_classes: int, train: bool = True,
                 compile: bool = False):
        if not isinstance(config, AugmentConfig):
            raise TypeError(f"GpuAugment takes an AugmentConfig, got {config!r}: "
                            "AugmentConfig.parse makes one from a preset name or a dict")
        self.config = config if train else config.without_randomness()
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.num_classes = num_classes
        self.train = train
        self._stats: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}
        self._plans: dict[tuple[int, torch.device], BatchPlan] = {}
        # Only a random pipeline has enough small ops to be worth compiling.
        self._compiled = torch.compile(per_image, dynamic=False) if compile and train else None

    @classmethod
    def for_dataset(cls, dataset, config: AugmentConfig, train: bool = True,
                    compile: bool = False) -> "GpuAugment":
        """Use ``dataset``'s (an ``ImageDataset``) own mean/std and class count."""
        return cls(config, dataset.mean, dataset.std, dataset.num_classes, train=train, compile=compile)

    def evaluation(self) -> "GpuAugment":
        """The matching test-time transform (same normalisation and resize, nothing random)."""
        return GpuAugment(self.config, self.mean.flatten().tolist(), self.std.flatten().tolist(),
                          self.num_classes, train=False)

    @property
    def soft_targets(self) -> bool:
        return self.train and self.config.mixing

    def sample(self, n: int, shape: tuple[int, int, int], generator: torch.Generator | None,
               device: torch.device | str) -> Params:
        """Random parameters for ``n`` global batch positions of images of ``shape`` (C, H, W)."""
        cfg, p = self.config, {}
        if not self.train:
            return p
        device = torch.device(device)
        if cfg.crop:
            p["dy"] = torch.randint(0, 2 * cfg.crop + 1, (n,), generator=generator, device=device)
            p["dx"] = torch.randint(0, 2 * cfg.crop + 1, (n,), generator=generator, device=device)
        if cfg.flip:
            p["flip"] = torch.rand(n, generator=generator, device=device) < 0.5
        # Options that are off draw nothing, so older configs keep their exact random stream.
        if cfg.rrc_scale is not None:
            p["rrc"] = sample_resized_crop(n, cfg.rrc_scale, cfg.rrc_ratio, generator, device)
        if cfg.color_jitter > 0:
            p["jitter"] = sample_jitter(n, cfg.color_jitter, generator, device)
        if cfg.policy == "trivial":
            p["layers"] = [sample_layer(n, generator, device)]
        elif cfg.policy == "randaug":
            p["layers"] = [sample_layer(n, generator, device, cfg.randaug_m / 10, cfg.randaug_mstd)
                           for _ in range(cfg.randaug_n)]
        if cfg.erasing > 0:
            p["erasing"] = sample_erasing(n, shape, cfg.erasing, cfg.erasing_mode == "pixel",
                                          generator, device)
        if cfg.mixing:
            p["mixing"] = sample_mixing(n, cfg.mixup, cfg.cutmix, cfg.mix_prob, cfg.switch_prob,
                                        generator, device)
        return p

    def apply(self, images: torch.Tensor, labels: torch.Tensor, params: Params,
              plan: BatchPlan | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Transform ``images`` (the uint8 images at ``plan.positions``) with ``params``."""
        plan = plan or self._single_process_plan(len(images), images.device)
        if len(plan.positions) != len(images):
            raise ValueError(f"{len(images)} images for a plan of {len(plan.positions)} positions")
        if len(images) == 0:  # a rank's share of a tiny last batch; affine_grid rejects size 0
            return self._empty(images, labels)
        with torch.no_grad():
            x = self._per_image(images, params if plan.whole else _take(params, plan.positions))
            y = labels
            if self.soft_targets:
                own = slice(None) if plan.whole else plan.own
                mixing = params["mixing"] if plan.whole else _take(params["mixing"], plan.positions[own])
                x, y = mix(x[own], x[plan.partner], labels[own], labels[plan.partner],
                           mixing, self.num_classes)
            # Without mixing, the images given are exactly this process's outputs, in order.
            if self.config.resize:
                x = resize(x, self.config.resize, self.config.resize_mode)
        return x, y

    def __call__(self, images: torch.Tensor, labels: torch.Tensor,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment one unsharded batch; ``generator`` (on the images' device) drives all randomness."""
        params = self.sample(len(images), tuple(images.shape[1:]), generator, images.device)
        return self.apply(images, labels, params)

    def _per_image(self, images: torch.Tensor, p: Params) -> torch.Tensor:
        if images.dtype != torch.uint8:
            raise TypeError(f"GpuAugment expects uint8 images, got {images.dtype}")
        mean, std = self._stats_on(images.device)
        if self._compiled is not None:
            try:
                return self._compiled(images, p, self.config, mean, std)
            except Exception as err:  # a compiler failure must not end a run: same maths, eager
                warnings.warn(f"compiling the augmentation failed ({type(err).__name__}: {err}); "
                              f"it runs eagerly instead", stacklevel=2)
                self._compiled = None
        return per_image(images, p, self.config, mean, std)

    def _single_process_plan(self, n: int, device: torch.device) -> BatchPlan:
        # Cached: building a plan copies index tensors to the device.
        key = (n, device)
        if key not in self._plans:
            self._plans[key] = plan_batch(n, 0, 1, self.soft_targets, device)
        return self._plans[key]

    def _stats_on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        # Copied to each device once: a per-batch copy would stall the GPU queue.
        if device not in self._stats:
            self._stats[device] = (self.mean.to(device), self.std.to(device))
        return self._stats[device]

    def _empty(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c, h, w = images.shape[1:]
        if self.config.resize:
            h = w = self.config.resize
        x = torch.empty(0, c, h, w, device=images.device)
        y = torch.empty(0, self.num_classes, device=images.device) if self.soft_targets else labels
        return x, y


def per_image(images: torch.Tensor, p: Params, cfg: AugmentConfig, mean: torch.Tensor,
              std: torch.Tensor) -> torch.Tensor:
    """Everything before mixing: crop+flip (on uint8), resized crop, colour jitter, policy,
    normalise, erasing. A pure function of its arguments, so that it can be compiled."""
    if "dy" in p or "flip" in p:
        zeros = torch.zeros(len(images), dtype=torch.long, device=images.device)
        flip = p.get("flip", torch.zeros(len(images), dtype=torch.bool, device=images.device))
        images = crop_flip(images, p.get("dy", zeros), p.get("dx", zeros), flip, cfg.crop, cfg.crop_mode)
    x = images.float().div_(255)
    if "rrc" in p:
        x = resized_crop(x, p["rrc"])
    if "jitter" in p:
        x = jitter(x, p["jitter"])
    for layer in p.get("layers", []):
        x = apply_layer(x, layer["op"], layer["strength"], layer["sign"], RANGES[cfg.policy], cfg.fill)
    x = (x - mean) / std
    if "erasing" in p:
        x = erase(x, p["erasing"])
    return x


def map_params(fn, params: Any) -> Any:
    """``fn`` applied to every tensor of a (nested dict / list) parameter structure."""
    if isinstance(params, torch.Tensor):
        return fn(params)
    if isinstance(params, dict):
        return {k: map_params(fn, v) for k, v in params.items()}
    if isinstance(params, list):
        return [map_params(fn, v) for v in params]
    return params


def _take(params: Any, index: torch.Tensor) -> Any:
    """Select rows ``index`` of every tensor in a (nested) parameter structure."""
    return map_params(lambda t: t[index], params)
