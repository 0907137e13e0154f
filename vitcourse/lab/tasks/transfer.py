"""Transfer tasks of Part III's pre-training chapter: "finetune_from" (another experiment's
encoder; optional encoder lr scale, freeze), "linear_probe" (frozen encoder) and
"timm_pretrained" (timm's ImageNet weights).

A fine-tuning task reads the pre-training run of the *same profile* (smoke from smoke, full from
full). In the smoke profile a missing pre-training run is simply run first (seconds on a CPU);
in the full profile it must already be finished -- the suite runs experiments in catalog order
and the catalog lists every pre-training before its fine-tunings. With run.dataset None
(`load_trained_model`) the task only rebuilds the trained module's structure (no weights fetched).
"""

from __future__ import annotations

from vitcourse.pretrain import LinearProbe, head_prefixes, load_pretrained, transfer_backbone

from .evaluation import save_per_class
from .setup import TaskRun, TaskSetup


def finetune_from(model, run: TaskRun, experiment, source_profile=None, encoder_lr_scale=1.0, freeze=False,
                  per_class=False) -> TaskSetup:
    """Start from experiment `experiment`'s encoder (a ViT's, or a ResNet's convolutional layers):
    full fine-tuning, the encoder at `encoder_lr_scale` x the head's learning rate, or
    (freeze=True, ViT only) a linear probe."""
    num_classes = model.config["num_classes"]
    after = save_per_class if per_class else None
    if run.dataset is not None:  # a real run: fetch the weights (a rebuild gets them from its checkpoint)
        profile = source_profile or run.profile
        source = run.trained(experiment, profile, run.seed, train_missing=profile == "smoke")
        transfer_backbone(source, model)
    if freeze:
        return TaskSetup(LinearProbe(model, num_classes), after_fit=after)
    lr_scales = None
    if encoder_lr_scale != 1.0:  # every parameter ("" prefixes all names) but the head's
        lr_scales = {"": encoder_lr_scale, **dict.fromkeys(head_prefixes(model), 1.0)}
    return TaskSetup(model, after_fit=after, lr_scales=lr_scales)


def linear_probe(model, run: TaskRun, experiment, source_profile=None, per_class=False) -> TaskSetup:
    return finetune_from(model, run, experiment, source_profile, freeze=True, per_class=per_class)


def timm_pretrained(model, run: TaskRun, timm_name, weights=None, per_class=False) -> TaskSetup:
    """Start from timm's ImageNet weights for `timm_name` (network, or $VITCOURSE_WEIGHTS_DIR)."""
    if run.dataset is not None:
        # everything but the 1000-class head
        transfer_backbone(load_pretrained(timm_name, weights), model, f"{timm_name} (use stem='imagenet')")
    return TaskSetup(model, after_fit=save_per_class if per_class else None)
