"""Batched, device-agnostic augmentation for uint8 image tensors (see ``pipeline.GpuAugment``)."""

from .config import PRESETS, AugmentConfig
from .pipeline import BatchPlan, GpuAugment, plan_batch

__all__ = ["AugmentConfig", "PRESETS", "GpuAugment", "BatchPlan", "plan_batch"]
