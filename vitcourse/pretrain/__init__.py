"""Pre-training and transfer for the book's Part III (and the losses of its class-imbalance chapter).

- `MaskedAutoencoder` (He et al., 2022 style) and `MaskedPatchPrediction` (the ViT paper's own
  self-supervised variant) wrap a vitcourse `ViT` encoder for pre-training without labels;
  `class_subset_objective` pre-trains with labels on some classes only.
- `RotationPrediction` pre-trains a ResNet without labels (predict each image's rotation).
- `transfer_encoder` moves a pre-trained encoder into a classifier (resampling positions for a new
  resolution); `LinearProbe` freezes it (`fit(..., lr_scales=...)` trains it at a fraction of the lr).
- `load_pretrained` gets timm's ImageNet weights, online or from a local safetensors file.
- `class_weights`, `weighted_ce_objective`, `ohem_objective` and the per-class measures serve
  long-tailed training; `vitcourse.pretrain.plots` draws the chapters' figures.
"""

from .imbalance import (balanced_accuracy, class_weights, confusion_matrix, hardest, ohem_objective,
                        per_class_accuracy, weighted_ce_objective)
from .mae import MAEOutput, MaskedAutoencoder, masked_mse, normalise_patches
from .masking import patchify, positions_to_mask, random_subset, unpatchify
from .mpp import KEPT, MASKED, RANDOM, UNTOUCHED, MaskedPatchPrediction, corrupt_patches, mean_colour_classes
from .pretrained import WEIGHTS_DIR_ENV, PretrainedWeightsUnavailable, load_pretrained
from .rotation import RotationPrediction, rotate_batch, rotation_accuracy
from .supervised import class_subset_objective
from .transfer import LinearProbe, encoder_of, head_prefixes, transfer_backbone, transfer_encoder

__all__ = [
    "MaskedAutoencoder", "MAEOutput", "masked_mse", "normalise_patches", "patchify", "unpatchify",
    "random_subset", "positions_to_mask", "MaskedPatchPrediction", "corrupt_patches",
    "mean_colour_classes", "UNTOUCHED", "MASKED", "RANDOM", "KEPT", "class_subset_objective",
    "transfer_encoder", "encoder_of", "LinearProbe", "load_pretrained",
    "PretrainedWeightsUnavailable", "WEIGHTS_DIR_ENV", "class_weights", "weighted_ce_objective",
    "ohem_objective", "hardest", "confusion_matrix", "per_class_accuracy", "balanced_accuracy",
    "RotationPrediction", "rotate_batch", "rotation_accuracy", "head_prefixes", "transfer_backbone",
]
