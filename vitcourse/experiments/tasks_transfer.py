"""Tasks of Part III's transfer and class-imbalance chapters (see `tasks.py` for the protocol).

Pre-training:  "mae_pretrain", "mpp_pretrain", "rotation_pretrain" (ResNet) (no labels),
               "supervised_pretrain" (some classes).
Transfer:      "finetune_from" (another experiment's encoder; optional encoder lr scale, freeze),
               "linear_probe" (frozen encoder), "timm_pretrained" (timm's ImageNet weights).
Imbalance:     "class_weighted", "ohem", "per_class_eval" (plain cross-entropy).

A fine-tuning task reads the pre-training run of the *same profile* (smoke from smoke, full from
full). In the smoke profile a missing pre-training run is simply run first (seconds on a CPU);
in the full profile it must already be finished -- the suite runs experiments in registration
order and the catalog registers every pre-training before its fine-tunings.
Every task is also called with dataset=None by `load_trained_model`: it then only rebuilds the
structure of the trained module (no weights are fetched) so the checkpoint can be loaded into it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from vitcourse.data import GpuAugment, TensorLoader
from vitcourse.interpret.arrays import save_arrays
from vitcourse.pretrain import (LinearProbe, MaskedAutoencoder, MaskedPatchPrediction, RotationPrediction,
                                ScaledUpdates, class_subset_objective, class_weights, confusion_matrix,
                                head_prefixes, load_pretrained, ohem_objective, rotation_accuracy,
                                transfer_backbone, weighted_ce_objective)

from .tasks import TaskSetup, register_task


def self_supervised(net, images, targets):
    """The pre-training wrappers return their own loss; there are no logits to score."""
    return net(images), None


def eval_loader(dataset, model: nn.Module, batch_size: int = 500, count: int | None = None,
                indices: torch.Tensor | None = None) -> TensorLoader:
    """The test split (or its first `count` images, or the given `indices`), normalised as in
    training, resized to the model's input size if it differs (a ViT knows its size; models
    without `image_size`, like the ResNet, are evaluated at the dataset's own size)."""
    size = getattr(getattr(model, "encoder", getattr(model, "backbone", model)), "image_size", None)
    native = tuple(dataset.image_shape[1:])
    augment = {"crop": 0, "flip": False}
    if size is not None and tuple(size) != native:
        augment["resize"] = int(size[0])
    if indices is None:
        indices = torch.arange(len(dataset.test_labels))[:count]
    images, labels = dataset.test_images[indices], dataset.test_labels[indices]
    return TensorLoader(images, labels, min(batch_size, len(labels)), shuffle=False, drop_last=False,
                        augment=GpuAugment.for_dataset(dataset, augment, train=False))


def save_per_class(model: nn.Module, dataset, run_dir: Path) -> None:
    """per_class.npz: the test confusion matrix (rows true, columns predicted) and train counts."""
    confusion = confusion_matrix(model, eval_loader(dataset, model), dataset.num_classes)
    save_arrays(Path(run_dir) / "per_class.npz", confusion=confusion,
             train_counts=np.array(dataset.class_counts("train")), classes=np.array(dataset.classes))


# ---- pre-training ------------------------------------------------------------------------------

@register_task("mae_pretrain")
def mae_pretrain(model, dataset, profile, seed, device, mask_ratio=0.75, decoder_dim=128,
                 decoder_depth=2, decoder_heads=4, norm_pix_loss=True) -> TaskSetup:
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


@register_task("mpp_pretrain")
def mpp_pretrain(model, dataset, profile, seed, device, ratio=0.5, mask_prob=0.8, random_prob=0.1,
                 bits=3) -> TaskSetup:
    stats = {} if dataset is None else {"mean": dataset.mean, "std": dataset.std}
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


@register_task("rotation_pretrain")
def rotation_pretrain(model, dataset, profile, seed, device) -> TaskSetup:
    return TaskSetup(RotationPrediction(model), objective=self_supervised, evaluate=False,
                     after_fit=save_rotation_accuracy)


def save_rotation_accuracy(model: RotationPrediction, dataset, run_dir: Path, count: int = 2000) -> None:
    """rotation_eval.npz: how often the pre-trained ResNet names the rotation of a test image."""
    save_arrays(Path(run_dir) / "rotation_eval.npz",
                accuracy=rotation_accuracy(model, eval_loader(dataset, model, count=count)), images=count)


@register_task("supervised_pretrain")
def supervised_pretrain(model, dataset, profile, seed, device, classes=(0, 1, 2, 3, 4),
                        label_smoothing=0.0) -> TaskSetup:
    return TaskSetup(model, objective=class_subset_objective(classes, label_smoothing), evaluate=False)


# ---- transfer ----------------------------------------------------------------------------------

def pretrained_source(experiment: str, profile: str, seed: int) -> nn.Module:
    """The finished run `experiment` (same profile) as a module with its trained weights."""
    from .registry import get_experiment
    from .results import is_finished
    from .runner import command_for, load_trained_model, refuse_stale, run_experiment

    seeds = get_experiment(experiment).seeds_for(profile)
    source_seed = seed if seed in seeds or not seeds else seeds[0]
    refuse_stale(experiment, profile, source_seed)   # never fine-tune from an older spec's weights
    if not is_finished(experiment, profile, source_seed):
        if profile != "smoke":
            raise RuntimeError(
                f"fine-tuning needs the finished pre-training run {experiment!r} ({profile}, seed "
                f"{source_seed}); run `{command_for(experiment, profile, source_seed)}` first (the suite "
                f"runs it before its fine-tunings: call the suite again to continue).")
        run_experiment(experiment, "smoke", source_seed, progress=False)
    try:
        return load_trained_model(experiment, profile, source_seed)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"{err} The run log of {experiment!r} is finished but its weights are not on this machine "
            f"(checkpoints stay out of git, under runs/checkpoints/): copy that folder from the machine "
            f"that trained it, or move data/results/{experiment}/{profile}/seed{source_seed} aside and "
            f"run the pre-training again.") from None


@register_task("finetune_from")
def finetune_from(model, dataset, profile, seed, device, experiment, source_profile=None,
                  encoder_lr_scale=1.0, freeze=False, per_class=False) -> TaskSetup:
    """Start from experiment `experiment`'s encoder (a ViT's, or a ResNet's convolutional layers):
    full fine-tuning, the encoder at `encoder_lr_scale` x the head's learning rate, or
    (freeze=True, ViT only) a linear probe."""
    num_classes = model.config["num_classes"]
    after = save_per_class if per_class else None
    if dataset is not None:  # a real run: fetch the weights (a rebuild gets them from its checkpoint)
        transfer_backbone(pretrained_source(experiment, source_profile or profile, seed), model)
    if freeze:
        return TaskSetup(LinearProbe(model, num_classes), after_fit=after)
    if encoder_lr_scale != 1.0 and dataset is not None:  # only training needs the scaled steps
        encoder = [p for n, p in model.named_parameters() if not n.startswith(head_prefixes(model))]
        model._scaled_updates = ScaledUpdates(encoder, encoder_lr_scale)  # lives as long as the model
    return TaskSetup(model, after_fit=after)


@register_task("linear_probe")
def linear_probe(model, dataset, profile, seed, device, experiment, source_profile=None,
                 per_class=False) -> TaskSetup:
    return finetune_from(model, dataset, profile, seed, device, experiment, source_profile,
                         freeze=True, per_class=per_class)


@register_task("timm_pretrained")
def timm_pretrained(model, dataset, profile, seed, device, timm_name, weights=None,
                    per_class=False) -> TaskSetup:
    """Start from timm's ImageNet weights for `timm_name` (network, or $VITCOURSE_WEIGHTS_DIR)."""
    if dataset is not None:
        # everything but the 1000-class head
        transfer_backbone(load_pretrained(timm_name, weights), model, f"{timm_name} (use stem='imagenet')")
    return TaskSetup(model, after_fit=save_per_class if per_class else None)


# ---- class imbalance ---------------------------------------------------------------------------

@register_task("class_weighted")
def class_weighted(model, dataset, profile, seed, device, power=1.0, label_smoothing=0.0,
                   per_class=True) -> TaskSetup:
    after = save_per_class if per_class else None
    if dataset is None:
        return TaskSetup(model)
    weights = class_weights(dataset.class_counts("train"), power)
    return TaskSetup(model, objective=weighted_ce_objective(weights, label_smoothing), after_fit=after)


@register_task("ohem")
def ohem(model, dataset, profile, seed, device, keep=0.5, label_smoothing=0.0, per_class=True) -> TaskSetup:
    return TaskSetup(model, objective=ohem_objective(keep, label_smoothing),
                     after_fit=save_per_class if per_class else None)


@register_task("per_class_eval")
def per_class_eval(model, dataset, profile, seed, device) -> TaskSetup:
    """Plain classification (the train config's cross-entropy) plus per_class.npz after training."""
    return TaskSetup(model, after_fit=save_per_class)
