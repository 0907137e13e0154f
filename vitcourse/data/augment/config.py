"""`AugmentConfig`: every augmentation knob in one small, frozen, JSON-safe dataclass.

It is the one form the course's augmentation accepts. Experiment specs (and the CLI) name a
preset (``"deit"``) or give a dict of fields (``{"policy": "randaug", "mixup": 0.8}``);
``AugmentConfig.parse`` turns either into an ``AugmentConfig`` once, at that boundary, and a typo
fails loudly instead of silently training without the augmentation the experiment was about.
Defaults are the light CIFAR baseline (4 px reflect-padded crop and horizontal flip);
everything stronger is opt-in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

POLICIES = (None, "trivial", "randaug")
CROP_MODES = ("reflect", "zeros")
ERASING_MODES = ("pixel", "const")
RESIZE_MODES = ("bilinear", "bicubic", "nearest")


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation, applied in this order to each batch:

    crop+flip -> resized crop -> colour jitter -> policy -> normalise -> random erasing
    -> Mixup/CutMix -> resize.

    * ``crop``: padding in pixels for the random crop (0 = off); ``crop_mode`` reflect or zeros.
    * ``rrc_scale``: random-resized crop (Inception-style), or None for off. Each image keeps a
      box covering a fraction ``U(rrc_scale)`` of its area, with aspect ratio (width / height)
      drawn log-uniformly from ``rrc_ratio``, and the box is resampled (bilinear) back to the
      full size. Boxes too long for a side are clamped to it instead of redrawn (torchvision
      retries up to 10 times), so extreme ratios give slightly smaller areas.
    * ``color_jitter``: strength j in [0, 1) (0 = off). Each image draws brightness, contrast
      and saturation factors uniformly in [1 - j, 1 + j] and applies them in that fixed order
      (torchvision's ColorJitter shuffles the order per call; fixing it keeps things simple).
    * ``policy``: ``"trivial"`` (TrivialAugment-style: one op per image, random strength, wide
      ranges) or ``"randaug"`` (``randaug_n`` ops per image at strength ``randaug_m`` on timm's
      0-10 scale, jittered by ``randaug_mstd``), or None.
    * ``mixup`` / ``cutmix``: Beta(alpha, alpha) concentration; 0 turns it off. With both on,
      each mixed image uses CutMix with probability ``switch_prob``; ``mix_prob`` of the images
      are mixed at all. Mixing makes the targets soft (``N x K`` rows summing to 1).
    * ``erasing``: probability of erasing one random box per image; ``"pixel"`` fills it with
      normal noise, ``"const"`` with 0 (the mean, after normalisation).
    * ``resize``: output side in pixels (e.g. 224 for ImageNet-sized ViTs) or None.
    * ``fill``: the grey (in [0, 1]) that rotations, shears and translations expose.
    """

    crop: int = 4
    crop_mode: str = "reflect"
    flip: bool = True
    policy: str | None = None
    randaug_n: int = 2
    randaug_m: float = 9.0
    randaug_mstd: float = 0.0
    mixup: float = 0.0
    cutmix: float = 0.0
    mix_prob: float = 1.0
    switch_prob: float = 0.5
    erasing: float = 0.0
    erasing_mode: str = "pixel"
    resize: int | None = None
    resize_mode: str = "bicubic"
    fill: float = 0.5
    rrc_scale: tuple[float, float] | None = None
    rrc_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    color_jitter: float = 0.0

    def __post_init__(self):
        # JSON gives lists back; store tuples so parse(to_dict()) compares equal. The
        # dataclass is frozen, hence object.__setattr__.
        if self.rrc_scale is not None:
            object.__setattr__(self, "rrc_scale", _pair("rrc_scale", self.rrc_scale, "(0.8, 1.0)"))
        object.__setattr__(self, "rrc_ratio", _pair("rrc_ratio", self.rrc_ratio, "(3 / 4, 4 / 3)"))
        _choose("crop_mode", self.crop_mode, CROP_MODES)
        _choose("policy", self.policy, POLICIES)
        _choose("erasing_mode", self.erasing_mode, ERASING_MODES)
        _choose("resize_mode", self.resize_mode, RESIZE_MODES)
        if not (isinstance(self.crop, int) and self.crop >= 0):
            raise ValueError(f"crop must be padding in whole pixels >= 0, got {self.crop!r}")
        if not (isinstance(self.randaug_n, int) and self.randaug_n >= 1):
            raise ValueError(f"randaug_n must be an int >= 1, got {self.randaug_n!r}")
        if not 0 <= self.randaug_m <= 10:
            raise ValueError(f"randaug_m is on timm's 0-10 scale, got {self.randaug_m!r}")
        for name in ("mix_prob", "switch_prob", "erasing", "fill"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        for name in ("mixup", "cutmix", "randaug_mstd"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0 turns it off), got {getattr(self, name)!r}")
        if self.resize is not None and not (isinstance(self.resize, int) and self.resize > 0):
            raise ValueError(f"resize must be a side length in pixels or None, got {self.resize!r}")
        if self.rrc_scale is not None and not 0 < self.rrc_scale[0] <= self.rrc_scale[1] <= 1:
            raise ValueError(f"rrc_scale must be area fractions (lo, hi) with 0 < lo <= hi <= 1, "
                             f"got {self.rrc_scale!r}; e.g. (0.8, 1.0), or None to turn it off")
        if not 0 < self.rrc_ratio[0] <= self.rrc_ratio[1]:
            raise ValueError(f"rrc_ratio must be aspect ratios (lo, hi) with 0 < lo <= hi, "
                             f"got {self.rrc_ratio!r}; e.g. (3 / 4, 4 / 3)")
        if not 0 <= self.color_jitter < 1:
            raise ValueError(f"color_jitter must be a strength in [0, 1) (0 turns it off), "
                             f"got {self.color_jitter!r}; e.g. 0.4")

    @property
    def mixing(self) -> bool:
        return (self.mixup > 0 or self.cutmix > 0) and self.mix_prob > 0

    @classmethod
    def parse(cls, spec: str | dict[str, Any] | None) -> "AugmentConfig":
        """The one conversion from an experiment spec's form: a preset name (see ``PRESETS``),
        a dict of fields (unknown keys are refused), or None for no random ops."""
        if spec is None:
            return PRESETS["none"]
        if isinstance(spec, str):
            if spec not in PRESETS:
                raise ValueError(f"unknown augmentation preset {spec!r}; known: {', '.join(PRESETS)}")
            return PRESETS[spec]
        if isinstance(spec, dict):
            known = [f.name for f in dataclasses.fields(cls)]
            unknown = sorted(set(spec) - set(known))
            if unknown:
                raise ValueError(f"unknown augmentation option(s) {unknown}; known: {', '.join(known)}")
            return cls(**spec)
        raise TypeError(f"an augmentation spec is a preset name ({', '.join(PRESETS)}), a dict of "
                        f"AugmentConfig fields, or None; got {spec!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (tuples become lists, as a JSON round trip would give)."""
        data = dataclasses.asdict(self)
        for name in ("rrc_scale", "rrc_ratio"):
            if data[name] is not None:
                data[name] = list(data[name])
        return data

    def without_randomness(self) -> "AugmentConfig":
        """The evaluation view: only the deterministic resize is kept."""
        return AugmentConfig(crop=0, flip=False, resize=self.resize, resize_mode=self.resize_mode)


def _pair(name: str, value: Any, example: str) -> tuple[float, float]:
    """``value`` as a tuple of two floats (lists from JSON are fine), or a ValueError naming it."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be two numbers (lo, hi), got {value!r}; e.g. {example}") from None
    return lo, hi


def _choose(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")


# Named recipes, for experiment specs that say e.g. augment="deit".
PRESETS: dict[str, AugmentConfig] = {
    "none": AugmentConfig(crop=0, flip=False),
    "basic": AugmentConfig(),
    # The source write-up's mild augmentation for the class-imbalance study: horizontal flip
    # plus a random-resized crop keeping 80-100% of the area (no padded crop).
    "mild": AugmentConfig(crop=0, flip=True, rrc_scale=(0.8, 1.0)),
    "mild_jitter": AugmentConfig(crop=0, flip=True, rrc_scale=(0.8, 1.0), color_jitter=0.4),
    "trivial": AugmentConfig(policy="trivial"),
    "randaug": AugmentConfig(policy="randaug", randaug_n=2, randaug_m=9),
    # DeiT's recipe, the usual starting point for ViTs trained from scratch.
    "deit": AugmentConfig(policy="randaug", randaug_n=2, randaug_m=9, randaug_mstd=0.5,
                          mixup=0.8, cutmix=1.0, erasing=0.25),
}
