"""Part II, chapter 6: the first training run."""

from ..experiment import Experiment

# This chapter's experiments, in suite order (the catalog lists the chapters in order).
EXPERIMENTS: list[Experiment] = []

# A small plain ViT (patch 4 at 32 px: 64 tokens) with the standard CIFAR-10 crop-and-flip
# augmentation, AdamW, warm-up + cosine and label smoothing: the baseline later chapters improve.
EXPERIMENTS.append(Experiment(
    name="first_run",
    chapter="Part II: Your first training run",
    description="ViT (patch 4, D=192, depth 6, 3 heads) on CIFAR-10 with crop+flip, AdamW, cosine",
    base=dict(
        model=dict(arch="vit", patch_size=4, dim=192, depth=6, heads=3, mlp_ratio=2.0),
        data=dict(dataset="cifar10", fraction=1.0, augment="basic"),
        train=dict(epochs=30, batch_size=512, optimizer="adamw", lr=1e-3, weight_decay=0.05,
                   warmup_epochs=2, label_smoothing=0.1, grad_clip=1.0, amp="bf16"),
    ),
    smoke=dict(
        model=dict(dim=64, depth=2, heads=2),
        data=dict(fraction=0.05),
        train=dict(epochs=3, batch_size=128, warmup_epochs=1, log_every=10),
    ),
))
