"""Published numbers the Part III chapters put beside ours, each marked with where it comes from
(theirs, not ours: every other number the book reports comes from a run log)."""

# Published numbers (theirs, not ours). Course brief 3a: one student write-up, NVIDIA A10, Adam,
# lr 1e-4, batch 256, cross-entropy, no augmentation; /16 and /32 models on images upsampled to
# 224 px. Test accuracy in % after 10 / 20 / 50 epochs (None: not reported) and seconds per epoch.
SOURCE_3A = {
    "ViT p32 @224": {"acc": {10: 63.95, 20: 65.52}, "s_per_epoch": 45.12},
    "ViT p16 @224": {"acc": {10: 67.73, 20: 71.65, 50: 72.75}, "s_per_epoch": 184.00},
    "ResNet-18": {"acc": {10: 68.14, 20: 73.25, 50: 79.06}, "s_per_epoch": 50.78},
}
# Same write-up, small ViTs at native 32 px: (model, lr) -> {epochs: test acc %}.
SOURCE_3A_SMALL = {
    ("vit4", 1e-4): {5: 63.04, 10: 66.97},
    ("vit2", 1e-4): {5: 57.23},
    ("vit2", 5e-4): {5: 60.08, 10: 67.05},
}
# Course brief 3b: another write-up's one-knob ablations (patch 4, D=256, 4 heads, 6 layers,
# MLP 512, dropout 0.1 by default); they report conclusions, not a table we could quote.
SOURCE_3B_CLAIMS = {
    "patch": "patch 16 collapses (tried 4 / 8 / 16)",
    "width": "bigger is better up to their memory limit (tried 64 / 128 / 256 / 512)",
    "heads": "8 heads best; too few and too many both hurt (tried 2 / 4 / 8 / 16)",
}
# ViT paper, Table 8 (ViT-B/16, ImageNet 5-shot linear accuracy, embeddings added at the stem).
PAPER_TABLE8 = {"none": 0.61382, "learned": 0.64206, "learned2d": 0.64001, "relative": 0.64032}
