"""Chapter 6's inspection functions on tiny models, where the right answer is known."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from vitcourse.data import CIFAR10, ImageDataset
from vitcourse.interpret import (VIT_SCHEMA, attention_rollout, cls_attention_maps, cosine_similarity_matrix,
                                 inspection_arrays, mean_attention_distance, mean_pairwise_distance, patch_centres,
                                 patch_filters, position_table, principal_components, rollout_cls_map,
                                 shift_images, translation_test)
from vitcourse.interpret.record import COMMON
from vitcourse.lab.arrays import check_arrays, load_arrays, load_run_arrays, save_arrays
from vitcourse.models import ViT, copy_conv_to_linear
from vitcourse.plots import cls_attention


def tiny_vit(**kw):
    torch.manual_seed(0)
    return ViT(**{**dict(image_size=16, patch_size=4, num_classes=10, dim=32, depth=2, heads=4, mlp_ratio=2.0), **kw}).eval()


def fake_dataset(n_train=64, n_test=80, size=16):
    g = torch.Generator().manual_seed(0)
    return ImageDataset(
        name="cifar10", classes=list(CIFAR10.classes),
        train_images=torch.randint(0, 256, (n_train, 3, size, size), dtype=torch.uint8, generator=g),
        train_labels=torch.arange(n_train) % 10,
        test_images=torch.randint(0, 256, (n_test, 3, size, size), dtype=torch.uint8, generator=g),
        test_labels=torch.arange(n_test) % 10, provenance="random test images", source="memory")


def test_rollout_of_identity_attention_is_identity():
    eye = torch.eye(5).expand(2, 3, 5, 5)
    assert torch.allclose(attention_rollout([eye, eye, eye]), torch.eye(5).expand(2, 5, 5))


def test_rollout_rows_are_distributions_and_follow_the_formula():
    torch.manual_seed(0)
    layers = [torch.softmax(torch.randn(2, 3, 6, 6), -1) for _ in range(3)]
    rolled = attention_rollout(layers)
    assert torch.allclose(rolled.sum(-1), torch.ones(2, 6), atol=1e-5)
    # By hand: mix each head-averaged layer with the identity, renormalise, multiply later @ earlier.
    step = [(a.mean(1) + torch.eye(6)) / 2 for a in layers]
    assert torch.allclose(rolled, step[2] @ step[1] @ step[0], atol=1e-6)
    uniform = torch.full((1, 2, 4, 4), 0.25)
    assert torch.allclose(attention_rollout([uniform, uniform], residual=False), uniform[:, 0])


def test_cls_maps_match_the_plots_helper_and_rollout_has_grid_shape():
    model, x = tiny_vit(), torch.randn(3, 3, 16, 16)
    maps = cls_attention_maps(model, x)
    assert maps.shape == (3, 2, 4, 4, 4)
    assert torch.allclose(maps[1], cls_attention(model, x[1]), atol=1e-6)
    assert rollout_cls_map(model, x).shape == (3, 4, 4)
    with pytest.raises(ValueError, match="no class token"):
        cls_attention_maps(tiny_vit(pool="gap"), x)


def test_attention_distance_self_is_zero_and_uniform_is_mean_pairwise():
    grid, p = (4, 4), 4
    n = 16
    # The class token's row and column are ignored, whatever they hold.
    selfish = torch.zeros(2, 3, n + 1, n + 1)
    selfish[:, :, 0, :] = 1 / (n + 1)
    selfish[:, :, 1:, 0] = 0.5
    selfish[:, :, 1:, 1:] = 0.5 * torch.eye(n)
    assert torch.allclose(mean_attention_distance(selfish, grid, p), torch.zeros(3), atol=1e-6)
    uniform = torch.full((2, 3, n + 1, n + 1), 1 / (n + 1))
    expected = mean_pairwise_distance(grid, p)
    assert torch.allclose(mean_attention_distance(uniform, grid, p), torch.full((3,), expected), atol=1e-4)
    assert expected > p  # a global head looks further than one patch


def test_attention_distance_is_in_pixels():
    centres = patch_centres((2, 3), 8)
    assert centres.tolist()[:2] == [[4.0, 4.0], [4.0, 12.0]]
    # Every query attends only to the patch one to the right (the last column to the left): 8 px.
    grid, n = (2, 3), 6
    attn = torch.zeros(1, 1, n, n)
    for q in range(n):
        r, c = divmod(q, 3)
        attn[0, 0, q, r * 3 + (c + 1 if c < 2 else c - 1)] = 1
    assert mean_attention_distance(attn, grid, 8, num_prefix=0).item() == pytest.approx(8.0)


def test_filter_principal_components_are_orthonormal_and_ranked():
    model = tiny_vit()
    comps, ratio = principal_components(patch_filters(model), 10)
    flat = comps.reshape(10, -1)
    assert comps.shape == (10, 3, 4, 4)
    assert torch.allclose(flat @ flat.T, torch.eye(10), atol=1e-5)
    assert torch.all(ratio[:-1] >= ratio[1:]) and 0 < ratio.sum() <= 1 + 1e-6
    # The linear form of the patch embedding holds the same filters in another layout.
    linear = tiny_vit(patch_embed="linear")
    copy_conv_to_linear(model.patch_embed, linear.patch_embed)
    assert torch.allclose(patch_filters(linear), patch_filters(model))


def test_position_table_and_similarity():
    model = tiny_vit()
    table = position_table(model)
    assert table.shape == (16, 32)
    sim = cosine_similarity_matrix(table)
    assert torch.allclose(sim.diagonal(), torch.ones(16), atol=1e-5) and torch.allclose(sim, sim.T)
    with pytest.raises(ValueError, match="pos_embed='none'"):
        position_table(tiny_vit(pos_embed="none"))


class GlobalPool(nn.Module):
    """Averages over all pixels, then a linear layer: blind to where anything is."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(3, 10)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)))


class BrightestColumn(nn.Module):
    """Predicts the column (mod 10) of the brightest pixel: sensitive to every shift."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        col = x.sum(1).amax(1).argmax(-1)
        return nn.functional.one_hot(col % 10, 10).float() + self.dummy


def test_shift_images_moves_content():
    img = torch.arange(2 * 3 * 8 * 8).reshape(2, 3, 8, 8).to(torch.uint8)
    for mode in ("reflect", "zeros", "roll"):
        out = shift_images(img, 2, -1, mode)
        assert out.shape == img.shape and out.dtype == torch.uint8
        assert torch.equal(out[..., 2:, :7], img[..., :6, 1:])   # output[y, x] = input[y - 2, x + 1]
    assert torch.equal(shift_images(img, 0, 0), img)
    assert shift_images(img, 3, 0, "zeros")[..., :3, :].sum() == 0


def test_translation_test_of_shift_invariant_model_changes_nothing():
    data = fake_dataset()
    result = translation_test(GlobalPool(), data.test_images, data.test_labels, data.mean, data.std,
                              shifts=(1, 2, 5), mode="roll")
    assert result["changed"].tolist() == [0.0, 0.0, 0.0]
    assert torch.allclose(result["accuracy"], result["base_accuracy"].expand(3))
    moved = translation_test(BrightestColumn(), data.test_images, data.test_labels, data.mean, data.std,
                             shifts=(1,), mode="roll")
    assert moved["changed"].item() > 0.4  # the test can fail: a position-bound model is caught


def test_arrays_round_trip_and_bad_files_are_reported_by_name(tmp_path):
    schema = {"maps": ("f", ("n", 4)), "names": ("U", ("n",)), "count": ("i", ())}
    good = save_arrays(tmp_path / "good.npz", maps=np.zeros((3, 4)), names=np.array(["a", "b", "c"]), count=3)
    assert load_arrays(good, schema)["names"].tolist() == ["a", "b", "c"]

    cases = {
        "truncated.npz": good.read_bytes()[:40],
        "not-npz.npz": b"this is not a zip file",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    save_arrays(tmp_path / "missing.npz", maps=np.zeros((3, 4)), count=3)
    save_arrays(tmp_path / "shapes.npz", maps=np.zeros((3, 4)), names=np.array(["a", "b"]), count=3)
    save_arrays(tmp_path / "nan.npz", maps=np.full((1, 4), np.nan), names=np.array(["a"]), count=1)
    save_arrays(tmp_path / "kind.npz", maps=np.zeros((1, 4), dtype=np.int64), names=np.array(["a"]), count=1)
    expect = {"truncated.npz": "unreadable", "not-npz.npz": "unreadable", "missing.npz": "missing array 'names'",
              "shapes.npz": "'names' axis 0 (n) has size 2", "nan.npz": "NaN", "kind.npz": "expected kind 'f'"}
    for name, message in expect.items():
        problems = []
        with pytest.warns(UserWarning, match=name):
            assert load_arrays(tmp_path / name, schema, problems) is None
        assert name in problems[0] and message in problems[0], problems
    with pytest.raises(TypeError, match="object"):
        save_arrays(tmp_path / "obj.npz", bad=np.array([{"a": 1}], dtype=object))
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary files left behind


def test_run_arrays_skip_a_bad_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("VITCOURSE_RESULTS", str(tmp_path))
    base = tmp_path / "exp" / "full"
    save_arrays(base / "seed0" / "x.npz", v=np.ones(2))
    (base / "seed1").mkdir()
    (base / "seed1" / "x.npz").write_bytes(b"partial")
    problems = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = load_run_arrays("exp", "full", "x.npz", {"v": ("f", ("n",))}, problems)
    assert list(found) == [0] and "seed1" in problems[0]


def test_inspection_arrays_of_a_vit_and_a_cnn_pass_their_schemas():
    data = fake_dataset()
    arrays = inspection_arrays(tiny_vit(), data, distance_images=20, translation_images=16, pcs=5)
    assert check_arrays(arrays, VIT_SCHEMA) == []
    assert arrays["cls_maps"].shape == (10, 2, 4, 4, 4) and arrays["distances"].shape == (2, 4)
    assert arrays["shifts"].tolist() == list(range(1, 9)) and arrays["translation_images"] == 16
    cnn = inspection_arrays(GlobalPool(), data, translation_images=8)
    assert check_arrays(cnn, COMMON) == [] and "cls_maps" not in cnn
