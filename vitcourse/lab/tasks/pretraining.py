"""Pre-training tasks of Part III's transfer chapter: "mae_pretrain", "mpp_pretrain" (no labels),
"rotation_pretrain" (a ResNet, no labels) and "supervised_pretrain" (some classes only). None of
them has a test pass; each saves a small array file the chapter plots."""

from __future__ import annotations

from pathlib import Path

import torch

from vitcourse.pretrain import (MaskedAutoencoder, MaskedPatchPrediction, RotationPrediction,
                                class_subset_objective, rotation_accuracy)

from ..arrays import save_arrays
from .evaluation import eval_loader, self_supervised
from .setup import TaskRun, TaskSetup


def mae_pretrain(model, run: TaskRun, mask_ratio=0.75, decoder_dim=128, decoder_depth=2, decoder_heads=4,
                 norm_pix_loss=True) -> TaskSetup:
    mae = MaskedAutoencoder(model, mask_ratio, decoder_dim, decoder_depth, decoder_heads,
                            norm_pix_loss=norm_pix_loss)
    return TaskSetup(mae, objective=self_supervised, evaluate=False, after_fit=save_reconstructions)


def save_reconstructions(mae: MaskedAutoencoder, dataset, run_dir: Path, count: int = 8) -> None:
    """reconstructions.npz: test images (the first of each class), their masked versions and MAE's
    reconstructions (uint8 pixels), so the chapter can show full-profile reconstructions without
    the weights."""
    firsts = [int((dataset.test_labels == c).nonzero()[0, 0]) for c in range(dataset.num_classes)]
    images, _ = next(iter(eval_loader(dataset, mae, indices=torch.tensor(firsts[:count]))))
    device = next(mae.parameters()).device
    mae.eval()
    masked, recon, mask = mae.reconstruct(images.to(device), torch.Generator(device=device).manual_seed(0))
    mean = torch.tensor(dataset.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(dataset.std, device=device).view(1, -1, 1, 1)

    def to_uint8(x):
        return ((x.float() * std + mean).clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    save_arrays(Path(run_dir) / "reconstructions.npz", original=to_uint8(images.to(device)),
                masked=to_uint8(masked), reconstruction=to_uint8(recon), mask=mask.cpu().numpy())


def mpp_pretrain(model, run: TaskRun, ratio=0.5, mask_prob=0.8, random_prob=0.1, bits=3) -> TaskSetup:
    stats = {} if run.dataset is None else {"mean": run.dataset.mean, "std": run.dataset.std}
    mpp = MaskedPatchPrediction(model, ratio, mask_prob, random_prob, bits, **stats)
    return TaskSetup(mpp, objective=self_supervised, evaluate=False, after_fit=save_colour_accuracy)


@torch.no_grad()
def save_colour_accuracy(mpp: MaskedPatchPrediction, dataset, run_dir: Path, count: int = 2000) -> None:
    """mpp_eval.npz: how often the pre-trained model names the right 3-bit colour of a corrupted
    test patch, next to always guessing the commonest colour."""
    device = next(mpp.parameters()).device
    mpp.eval()
    hits = total = 0
    colours = torch.zeros(mpp.num_colours, dtype=torch.long)
    for images, _ in eval_loader(dataset, mpp, count=count):
        _, logits, target, _ = mpp.run(images.to(device), torch.Generator(device=device).manual_seed(0))
        hits += int((logits.argmax(1) == target).sum())
        total += target.numel()
        colours += torch.bincount(target.cpu(), minlength=mpp.num_colours)
    save_arrays(Path(run_dir) / "mpp_eval.npz", accuracy=hits / total,
                commonest_colour_accuracy=float(colours.max()) / total, patches=total)


def rotation_pretrain(model, run: TaskRun) -> TaskSetup:
    return TaskSetup(RotationPrediction(model), objective=self_supervised, evaluate=False,
                     after_fit=save_rotation_accuracy)


def save_rotation_accuracy(model: RotationPrediction, dataset, run_dir: Path, count: int = 2000) -> None:
    """rotation_eval.npz: how often the pre-trained ResNet names the rotation of a test image."""
    save_arrays(Path(run_dir) / "rotation_eval.npz",
                accuracy=rotation_accuracy(model, eval_loader(dataset, model, count=count)), images=count)


def supervised_pretrain(model, run: TaskRun, classes=(0, 1, 2, 3, 4), label_smoothing=0.0) -> TaskSetup:
    return TaskSetup(model, objective=class_subset_objective(classes, label_smoothing), evaluate=False)
