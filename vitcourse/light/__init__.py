"""Making ViT lighter and faster (Part III, chapter 7): knowledge distillation (soft labels and
DeiT's distillation token), attention-head pruning, int8 dynamic quantization, FLOPs and MFU,
training-speed sweeps, and the Part III summary table's measurements."""

from .deit import DistilledViT, distilled_from, head_accuracies
from .distill import distillation_loss, distillation_objective, freeze, hard_distillation_term, soft_distillation_term
from .mfu import PEAK_TFLOPS, mfu, peak_flops
from .measure import accuracy, cpu_latency_ms
from vitcourse.data import normalised
from .prune import head_counts, head_gates, head_importance, mask_heads, prune_heads, pruning_order
from .quantize import linear_layer_counts, quantize_linear_int8, serialized_bytes
from .speed import SpeedConfig, default_configs, rows_to_arrays, speed_sweep
from .table import PENDING, format_rows, measure_model
from vitcourse.models.flops import model_flops, vit_flops

__all__ = [
    "DistilledViT", "distilled_from", "head_accuracies", "distillation_loss", "distillation_objective", "freeze",
    "hard_distillation_term", "soft_distillation_term", "PEAK_TFLOPS", "mfu", "model_flops", "peak_flops",
    "vit_flops", "accuracy", "cpu_latency_ms", "normalised", "head_counts", "head_gates", "head_importance",
    "mask_heads", "prune_heads", "pruning_order", "linear_layer_counts", "quantize_linear_int8",
    "serialized_bytes", "SpeedConfig", "default_configs", "rows_to_arrays", "speed_sweep", "PENDING",
    "format_rows", "measure_model",
]
