"""A bad argument or input to the model gets one clear message naming the value and the fix,
never a model that silently differs from what was asked, and never a raw low-level error."""

import pytest
import torch

from vitcourse.models import ViT

SMALL = dict(image_size=32, patch_size=8, num_classes=10, dim=32, depth=1, heads=2)


@pytest.mark.parametrize("change, named", [
    (dict(depth=-1), "depth=-1"), (dict(depth=0), "depth=0"), (dict(num_classes=-3), "num_classes=-3"),
    (dict(dim=0), "dim=0"), (dict(heads=0), "heads=0"), (dict(dim=30, heads=4), "dim=30"),
    (dict(image_size=32.0), "image_size=32.0"), (dict(image_size=(32, -32)), "image_size=(32, -32)"),
    (dict(patch_size=2.5), "patch_size=2.5"), (dict(in_channels=True), "in_channels=True"),
    (dict(mlp_ratio=0), "mlp_ratio=0"), (dict(dropout=1.5), "dropout=1.5"),
])
def test_bad_arguments_are_refused_by_name(change, named):
    with pytest.raises(ValueError, match=named.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        ViT(**{**SMALL, **change})


def test_num_classes_zero_is_the_features_only_model():
    assert isinstance(ViT(**{**SMALL, "num_classes": 0}).head, torch.nn.Identity)


@pytest.mark.parametrize("images, hint", [
    (torch.zeros(2, 32, 32, 3), "permute(0, 3, 1, 2)"),
    (torch.zeros(2, 3, 32, 32, dtype=torch.uint8), "normalised"),
    (torch.zeros(2, 1, 32, 32), "in_channels=1"),
    (torch.zeros(3, 32, 32), "unsqueeze(0)"),
    (torch.zeros(2, 3, 48, 48), "set_image_size"),
])
def test_bad_inputs_name_the_fix(images, hint):
    with pytest.raises(ValueError, match=hint.replace("(", r"\(").replace(")", r"\)")):
        ViT(**SMALL)(images)
