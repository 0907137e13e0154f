"""The arrays chapter 7 needs from one trained student, measured right after training on the
machine that trained it and saved next to the run log: head importance and the pruning curve,
float32 vs int8 accuracy, size and CPU latency, and the training-speed sweep."""

from __future__ import annotations

import copy

import numpy as np
import torch

from vitcourse.data import normalised, spread_indices
from vitcourse.models.flops import vit_flops
from vitcourse.predict import fraction_equal, predictions

from .deit import DistilledViT, head_accuracies
from .measure import accuracy, cpu_latency_ms
from .prune import head_importance, prune_heads, pruning_order
from .quantize import linear_layer_counts, quantize_linear_int8, serialized_bytes
from .speed import rows_to_arrays, speed_sweep

FILENAME = "light.npz"
DISTILL_FILENAME = "distill.npz"

# What each file must hold, {key: (dtype kind, shape)}: `vitcourse.lab.arrays` checks files against it.
SCHEMA = {
    "eval_images": ("i", ()), "importance": ("fnan", ("L", "heads")), "prune_order": ("i", ("O", 2)),
    "pruned_heads": ("i", ("K",)), "prune_accuracy": ("f", ("K",)), "prune_params": ("i", ("K",)),
    "prune_gflops": ("f", ("K",)),
    "quant_variant": ("U", ("Q",)), "quant_accuracy": ("f", ("Q",)), "quant_latency_b1_ms": ("f", ("Q",)),
    "quant_latency_b32_ms": ("f", ("Q",)), "quant_bytes": ("i", ("Q",)), "int8_linear_layers": ("i", ()),
    "cpu_threads": ("i", ()),
    "speed_label": ("U", ("R",)), "speed_attention": ("U", ("R",)), "speed_dtype": ("U", ("R",)),
    "speed_compiled": ("b", ("R",)), "speed_batch": ("i", ("R",)), "speed_images_per_s": ("f", ("R",)),
    "speed_peak_memory_bytes": ("fnan", ("R",)), "speed_achieved_tflops": ("f", ("R",)),
    "speed_mfu": ("fnan", ("R",)), "speed_device": ("U", ()),
}
DISTILL_SCHEMA = {
    "eval_images": ("i", ()), "student_accuracy": ("f", ()), "teacher_accuracy": ("f", ()),
    "agreement": ("f", ()), "head_names": ("U", ("h",)), "head_accuracy": ("f", ("h",)),
}


def evaluation_subset(dataset, n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """n test images spread evenly over the test set, normalised, on `device`."""
    idx = spread_indices(len(dataset.test_images), n)
    x = normalised(dataset.test_images[idx], dataset.mean, dataset.std).to(device)
    return x, dataset.test_labels[idx].to(device)


def compression_arrays(model, dataset, *, eval_images: int = 2000, importance_images: int = 1024,
                       prune_steps: int = 8, latency_repeats: int = 20, speed: bool = True,
                       speed_steps: int | None = None) -> dict:
    device = next(model.parameters()).device
    model.eval()
    x, y = evaluation_subset(dataset, eval_images, device)
    # Importance from training images, so the test images that score the pruned models stay unseen.
    xt = normalised(dataset.train_images[:importance_images], dataset.mean, dataset.std).to(device)
    yt = dataset.train_labels[:importance_images].to(device)
    importance = head_importance(model, [(xt[i:i + 128], yt[i:i + 128]) for i in range(0, len(xt), 128)])
    order = pruning_order(importance)
    counts = np.unique(np.linspace(0, len(order), prune_steps + 1).round().astype(np.int64))
    accs, params, gflops = [], [], []
    for k in counts:
        pruned = prune_heads(model, order[:k])
        accs.append(accuracy(pruned, x, y))
        params.append(sum(p.numel() for p in pruned.parameters()))
        gflops.append(vit_flops(pruned) / 1e9)

    # CPU inference: float32 (fused and explicit attention) against int8 dynamic quantization.
    cpu_model = copy.deepcopy(model).cpu().float().eval()
    explicit = copy.deepcopy(cpu_model)
    for block in explicit.blocks:
        block.attn.fused = False
    int8 = quantize_linear_int8(cpu_model)
    variants = {"float32, fused attention": cpu_model, "float32, explicit attention": explicit,
                "int8 dynamic, fused attention": int8}
    shape = tuple(x.shape[1:])
    xc, yc = x.cpu(), y.cpu()
    quant = {name: (accuracy(m, xc, yc), cpu_latency_ms(m, shape, 1, latency_repeats),
                    cpu_latency_ms(m, shape, 32, max(3, latency_repeats // 4)), serialized_bytes(m))
             for name, m in variants.items()}
    out = {
        "eval_images": np.int64(len(x)), "importance": importance.numpy(),
        "prune_order": np.array(order, dtype=np.int64).reshape(-1, 2), "pruned_heads": counts,
        "prune_accuracy": np.array(accs, dtype=np.float64), "prune_params": np.array(params, dtype=np.int64),
        "prune_gflops": np.array(gflops, dtype=np.float64),
        "quant_variant": np.array(list(quant)), "quant_accuracy": np.array([v[0] for v in quant.values()]),
        "quant_latency_b1_ms": np.array([v[1] for v in quant.values()]),
        "quant_latency_b32_ms": np.array([v[2] for v in quant.values()]),
        "quant_bytes": np.array([v[3] for v in quant.values()], dtype=np.int64),
        "int8_linear_layers": np.int64(linear_layer_counts(int8)["int8"]),
        "cpu_threads": np.int64(torch.get_num_threads()),
    }
    rows = speed_sweep(model.config, device, steps=speed_steps) if speed else []
    out.update(rows_to_arrays(rows))
    return out


def distill_arrays(student, teacher, dataset, eval_images: int = 2000) -> dict:
    """Student and teacher accuracy on the same test images, how often they agree, and for a
    DeiT student the accuracy of each head."""
    device = next(student.parameters()).device
    student.eval()
    teacher = teacher.to(device).eval()
    x, y = evaluation_subset(dataset, eval_images, device)
    # One pass of each model over the images; accuracies and agreement are read from the predictions.
    student_pred, teacher_pred = predictions(student, x), predictions(teacher, x)
    student_acc = fraction_equal(student_pred, y)
    heads = head_accuracies(student, x, y) if isinstance(student, DistilledViT) else {"single head": student_acc}
    return {"eval_images": np.int64(len(x)), "student_accuracy": np.float64(student_acc),
            "teacher_accuracy": np.float64(fraction_equal(teacher_pred, y)),
            "agreement": np.float64(fraction_equal(student_pred, teacher_pred)),
            "head_names": np.array(list(heads)), "head_accuracy": np.array(list(heads.values()), dtype=np.float64)}
