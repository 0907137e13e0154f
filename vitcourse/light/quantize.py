"""Post-training int8 dynamic quantization of the Linear layers, for CPU inference.

"Dynamic": weights are converted to int8 once, ahead of time; activations are quantized on the
fly, batch by batch, with a scale computed from their observed range, and matrix products run in
int8 with int32 accumulation. No calibration data and no retraining are needed, which is why it is
the first thing to try on a Transformer, whose compute is almost all in Linear layers (U_qkv,
U_msa, the MLP). The patch-embedding convolution, LayerNorm, softmax and GELU stay in float32.

PyTorch marks `torch.ao.quantization` as deprecated in favour of the separate torchao package;
the eager API below still works in the torch versions this course pins, and its warnings are
silenced here so they do not clutter the chapter.
"""

from __future__ import annotations

import copy
import io
import warnings

import torch
from torch import nn


def _dynamic_linear_type():
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    return DynamicLinear


def quantize_linear_int8(model: nn.Module) -> nn.Module:
    """A CPU copy of `model` whose nn.Linear layers are int8 dynamically quantized (the original is untouched)."""
    from torch.ao.quantization import quantize_dynamic

    float_model = copy.deepcopy(model).cpu().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(float_model, {nn.Linear}, dtype=torch.qint8)


def linear_layer_counts(model: nn.Module) -> dict[str, int]:
    """How many Linear layers are still float and how many are int8 dynamic."""
    dynamic = _dynamic_linear_type()
    counts = {"float": 0, "int8": 0}
    for m in model.modules():
        if isinstance(m, dynamic):
            counts["int8"] += 1
        elif type(m) is nn.Linear:
            counts["float"] += 1
    return counts


def serialized_bytes(model: nn.Module) -> int:
    """Size of the model's state dict as torch.save writes it (weights plus quantization parameters)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes
