"""Tests for the random-resized crop, colour jitter, the "mild" presets and class-balanced sampling.

CPU only, small batches; the whole file runs in a few seconds.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from helpers import gen, uint8_batch

from vitcourse.data import PRESETS, AugmentConfig, GpuAugment, TensorLoader
from vitcourse.data.augment.color import jitter
from vitcourse.data.augment.erasing import sample_erasing
from vitcourse.data.augment.geometry import resized_crop, sample_resized_crop
from vitcourse.data.augment.mixing import sample_mixing
from vitcourse.data.augment.policy import sample_layer
from vitcourse.seeding import stream_seed

RAW = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # mean/std that leave the [0, 1] values as they are


# Small tensor ops are far slower with two OpenMP threads on 2-core CI machines.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _raw_aug(**config):
    return GpuAugment(AugmentConfig(crop=0, flip=False, **config), *RAW, num_classes=10)


# ---------------------------------------------------------------- random-resized crop

def test_rrc_full_box_is_identity():
    images, labels = uint8_batch(16)
    x, _ = _raw_aug(rrc_scale=(1.0, 1.0), rrc_ratio=(1.0, 1.0))(images, labels, gen())
    torch.testing.assert_close(x, images.float() / 255, atol=1e-5, rtol=0)


def test_rrc_quarter_area_is_a_2x_zoom():
    # Pixel value encodes the column: a horizontal ramp of 8 levels per pixel.
    cols = torch.arange(32, dtype=torch.uint8) * 8
    images = cols.view(1, 1, 1, 32).expand(8, 3, 32, 32).contiguous()
    x, _ = _raw_aug(rrc_scale=(0.25, 0.25), rrc_ratio=(1.0, 1.0))(images, torch.zeros(8), gen())
    # Interior columns only: the outermost output samples may sit in the clamped border half-pixel.
    step_in = 8 / 255
    step_out = (x[..., 2:-2].diff(dim=-1))
    torch.testing.assert_close(step_out, torch.full_like(step_out, step_in / 2), atol=1e-5, rtol=0)
    assert torch.all(x.diff(dim=-2).abs() < 1e-6)  # rows stay identical


def test_rrc_boxes_lie_inside_the_image():
    box = sample_resized_crop(20000, (0.08, 1.0), (3 / 4, 4 / 3), gen(), torch.device("cpu"))
    eps = 1e-6
    assert torch.all(box["left"] >= 0) and torch.all(box["top"] >= 0)
    assert torch.all(box["left"] + box["width"] <= 1 + eps)
    assert torch.all(box["top"] + box["height"] <= 1 + eps)
    aspect = box["width"] / box["height"]
    unclamped = (box["width"] < 1) & (box["height"] < 1)
    assert torch.all((aspect[unclamped] >= 3 / 4 - eps) & (aspect[unclamped] <= 4 / 3 + eps))
    area = box["width"] * box["height"]
    assert torch.all((area >= 0.08 - eps) & (area <= 1 + eps))


def test_rrc_is_deterministic_given_the_generator():
    images, labels = uint8_batch(16)
    aug = _raw_aug(rrc_scale=(0.3, 1.0))
    a, _ = aug(images, labels, gen(7))
    b, _ = aug(images, labels, gen(7))
    c, _ = aug(images, labels, gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_rrc_sharded_apply_matches_whole_batch():
    # sample() draws per global position; apply() on a subset must read the right rows.
    from vitcourse.data.augment import plan_batch
    images, labels = uint8_batch(16)
    aug = _raw_aug(rrc_scale=(0.5, 1.0), color_jitter=0.4)
    params = aug.sample(len(images), tuple(images.shape[1:]), gen(3), "cpu")
    whole, _ = aug.apply(images, labels, params)
    plan = plan_batch(len(images), 1, 2, mixing=False)
    part, _ = aug.apply(images[plan.positions], labels[plan.positions], params, plan)
    torch.testing.assert_close(part, whole[1::2], atol=1e-6, rtol=0)


def test_resized_crop_helper_reads_the_box():
    # Box = right half of the image: output column j reads input column 16 + j / 2.
    cols = torch.arange(32, dtype=torch.float32).view(1, 1, 1, 32).expand(1, 1, 4, 32)
    one, half, zero = torch.ones(1), torch.full((1,), 0.5), torch.zeros(1)
    out = resized_crop(cols, {"left": half, "top": zero, "width": half, "height": one})
    expected = 15.75 + torch.arange(32) / 2  # pixel centres: 16 + (j + 0.5) / 2 - 0.5
    torch.testing.assert_close(out[0, 0, 0, :-1], expected[:-1], atol=1e-4, rtol=0)


# ---------------------------------------------------------------- colour jitter

def test_jitter_zero_and_unit_factors_are_identity():
    images, labels = uint8_batch(16)
    plain, _ = _raw_aug()(images, labels, gen())
    x, _ = _raw_aug(color_jitter=0.0)(images, labels, gen())
    assert torch.equal(x, plain)
    f = images.float() / 255
    torch.testing.assert_close(jitter(f, torch.ones(len(f), 3)), f, atol=1e-6, rtol=0)


def test_jitter_factors_lie_in_range():
    j = 0.4
    params = _raw_aug(color_jitter=j).sample(5000, (3, 32, 32), gen(), "cpu")
    factors = params["jitter"]
    assert factors.shape == (5000, 3)
    assert factors.min() >= 1 - j and factors.max() <= 1 + j
    assert factors.min() < 1 - 0.9 * j and factors.max() > 1 + 0.9 * j  # spans the range


def test_jitter_on_flat_grey_is_brightness_only():
    # Contrast and saturation leave a flat grey image alone, so only brightness shows.
    j, grey = 0.4, 128 / 255
    images = torch.full((64, 3, 8, 8), 128, dtype=torch.uint8)
    aug = _raw_aug(color_jitter=j)
    params = aug.sample(len(images), (3, 8, 8), gen(), "cpu")
    x, _ = aug.apply(images, torch.zeros(64), params)
    assert x.min() >= grey * (1 - j) - 1e-6 and x.max() <= grey * (1 + j) + 1e-6
    expected = (grey * params["jitter"][:, 0]).view(-1, 1, 1, 1).expand_as(x)
    torch.testing.assert_close(x, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("values, field", [
    ({"color_jitter": 1.0}, "color_jitter"), ({"color_jitter": -0.1}, "color_jitter"),
    ({"rrc_scale": (0.0, 1.0)}, "rrc_scale"), ({"rrc_scale": (0.9, 0.8)}, "rrc_scale"),
    ({"rrc_scale": (0.8, 1.2)}, "rrc_scale"), ({"rrc_scale": 0.8}, "rrc_scale"),
    ({"rrc_ratio": (4 / 3, 3 / 4)}, "rrc_ratio"), ({"rrc_ratio": (0.0, 1.0)}, "rrc_ratio"),
])
def test_bad_values_raise_naming_the_field(values, field):
    with pytest.raises(ValueError, match=field):
        AugmentConfig(**values)


# ---------------------------------------------------------------- presets, round trips, old streams

@pytest.mark.parametrize("name", ["mild", "mild_jitter"])
def test_mild_presets_resolve_and_round_trip(name):
    cfg = AugmentConfig.parse(name)
    assert cfg.crop == 0 and cfg.flip and cfg.rrc_scale == (0.8, 1.0)
    assert cfg.color_jitter == (0.4 if name == "mild_jitter" else 0.0)
    assert AugmentConfig.parse(cfg.to_dict()) == cfg
    assert AugmentConfig.parse(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert cfg.without_randomness() == AugmentConfig(crop=0, flip=False)
    x, _ = GpuAugment(PRESETS[name], *RAW, num_classes=10)(*uint8_batch(16), gen())
    assert x.shape == (16, 3, 32, 32) and 0 <= x.min() and x.max() <= 1


def _legacy_sample(cfg: AugmentConfig, n, shape, generator):
    """GpuAugment.sample as it was before the resized crop and jitter existed."""
    p = {}
    if cfg.crop:
        p["dy"] = torch.randint(0, 2 * cfg.crop + 1, (n,), generator=generator)
        p["dx"] = torch.randint(0, 2 * cfg.crop + 1, (n,), generator=generator)
    if cfg.flip:
        p["flip"] = torch.rand(n, generator=generator) < 0.5
    if cfg.policy == "trivial":
        p["layers"] = [sample_layer(n, generator, torch.device("cpu"))]
    elif cfg.policy == "randaug":
        p["layers"] = [sample_layer(n, generator, torch.device("cpu"), cfg.randaug_m / 10,
                                    cfg.randaug_mstd) for _ in range(cfg.randaug_n)]
    if cfg.erasing > 0:
        p["erasing"] = sample_erasing(n, shape, cfg.erasing, cfg.erasing_mode == "pixel",
                                      generator, torch.device("cpu"))
    if cfg.mixing:
        p["mixing"] = sample_mixing(n, cfg.mixup, cfg.cutmix, cfg.mix_prob, cfg.switch_prob,
                                    generator, torch.device("cpu"))
    return p


def _assert_same(a, b):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _assert_same(u, v)
    else:
        assert a == b


@pytest.mark.parametrize("name", ["none", "basic", "trivial", "randaug", "deit"])
def test_options_off_keep_the_old_random_stream(name):
    # Same parameters and same generator state afterwards => bitwise the same augmentation.
    cfg = AugmentConfig.parse(name)
    assert cfg.rrc_scale is None and cfg.color_jitter == 0
    images, labels = uint8_batch(16)
    shape = tuple(images.shape[1:])
    new_gen, old_gen = gen(5), gen(5)
    params = GpuAugment(cfg, *RAW, num_classes=10).sample(len(images), shape, new_gen, "cpu")
    _assert_same(params, _legacy_sample(cfg, len(images), shape, old_gen))
    assert torch.equal(new_gen.get_state(), old_gen.get_state())


# ---------------------------------------------------------------- class-balanced sampling

def _long_tailed(seed=0):
    counts = [500, 250, 125, 63, 32, 16, 10, 8, 6, 5]  # ~100:1, like CIFAR-10-LT
    labels = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    labels = labels[torch.randperm(len(labels), generator=gen(seed))]
    images = torch.zeros(len(labels), 1, 2, 2, dtype=torch.uint8)
    return images, labels


def _epoch_rows(loader, epoch):
    # Which samples an epoch visits, in order: the order itself, read through the loader.
    loader.set_epoch(epoch)
    return loader._order()


def test_class_balanced_epoch_has_equal_class_frequencies():
    images, labels = _long_tailed()
    loader = TensorLoader(images, labels, 64, sampling="class_balanced", seed=0)
    order = _epoch_rows(loader, 0)
    n = len(order)
    freq = torch.bincount(labels[order], minlength=10).double() / n
    se = math.sqrt(0.1 * 0.9 / n)
    assert torch.all((freq - 0.1).abs() < 3 * se), freq
    # Within a class each image is equally likely: the 5-image class should show all of them.
    rare = torch.nonzero(labels == 9).flatten()
    assert set(order[torch.isin(order, rare)].tolist()) == set(rare.tolist())


def test_class_balanced_order_depends_only_on_seed_and_epoch():
    images, labels = _long_tailed()

    def order(seed, epoch):
        return _epoch_rows(TensorLoader(images, labels, 64, sampling="class_balanced", seed=seed), epoch)

    assert torch.equal(order(0, 3), order(0, 3))
    assert not torch.equal(order(0, 3), order(0, 4))
    assert not torch.equal(order(0, 3), order(1, 3))


def test_uniform_sampling_is_unchanged():
    images, labels = _long_tailed()
    loader = TensorLoader(images, labels, 64, seed=11)
    expected = torch.randperm(len(labels), generator=gen(stream_seed(11, "order", 2)))
    assert torch.equal(_epoch_rows(loader, 2), expected)
    explicit = TensorLoader(images, labels, 64, seed=11, sampling="uniform")
    assert torch.equal(_epoch_rows(explicit, 2), expected)


@pytest.mark.parametrize("augment", [None, "mild_jitter"])
def test_class_balanced_shards_add_up_to_the_global_batch(augment):
    images, labels = _long_tailed()
    images = torch.randint(0, 256, (len(labels), 3, 8, 8), generator=gen(1), dtype=torch.uint8)

    def batches(rank, world_size):
        aug = None if augment is None else GpuAugment(PRESETS[augment], *RAW, num_classes=10)
        loader = TensorLoader(images, labels, 32, seed=4, augment=aug, rank=rank,
                              world_size=world_size, sampling="class_balanced")
        loader.set_epoch(1)
        return list(loader)

    whole, shards = batches(0, 1), [batches(r, 2) for r in range(2)]
    assert len(whole) == len(shards[0]) == len(shards[1])
    for b, (x, y) in enumerate(whole):
        for r in range(2):
            xs, ys = shards[r][b]
            torch.testing.assert_close(xs, x[r::2], atol=1e-6, rtol=0)
            assert torch.equal(ys, y[r::2])


def test_bad_sampling_values_raise():
    images, labels = _long_tailed()
    with pytest.raises(ValueError, match="sampling must be one of.*'balanced'"):
        TensorLoader(images, labels, 64, sampling="balanced")
    with pytest.raises(ValueError, match="shuffle=False"):
        TensorLoader(images, labels, 64, sampling="class_balanced", shuffle=False)


def test_from_dataset_passes_sampling_and_refuses_it_for_test():
    from vitcourse.data import ImageDataset
    images, labels = _long_tailed()
    images = torch.zeros(len(labels), 3, 4, 4, dtype=torch.uint8)
    ds = ImageDataset(name="cifar10", classes=[str(k) for k in range(10)], train_images=images,
                      train_labels=labels, test_images=images[:20], test_labels=labels[:20],
                      provenance="synthetic", source="test")
    train = TensorLoader.from_dataset(ds, "train", 32, sampling="class_balanced")
    assert train.sampling == "class_balanced"
    assert TensorLoader.from_dataset(ds, "test", 8).sampling == "uniform"
    with pytest.raises(ValueError, match="test split.*sampling='uniform'"):
        TensorLoader.from_dataset(ds, "test", 8, sampling="class_balanced")


def test_repeated_augmentation_shows_a_third_of_the_images_three_times_each_differently():
    """DeiT's repeated augmentation: the epoch keeps its length, each batch holds three copies of
    each of its images, and each copy is augmented on its own."""
    from vitcourse.data.loader import REPEATS
    n = 96
    images = torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(n) % 10
    plain = TensorLoader(images, labels, 24, seed=3)
    loader = TensorLoader(images, labels, 24, seed=3, sampling="repeated")
    loader.set_epoch(1)
    order = loader._order()
    assert len(order) == n and len(order.unique()) == n // REPEATS
    assert torch.equal(order.view(-1, REPEATS), order[::REPEATS, None].expand(-1, REPEATS))   # in a row
    plain.set_epoch(1)
    assert torch.equal(order[::REPEATS], plain._order()[:n // REPEATS])   # the epoch's own permutation
    loader.set_epoch(2)
    assert not torch.equal(loader._order(), order)
    aug = GpuAugment(AugmentConfig(crop=2, flip=True), *RAW, num_classes=10)
    augmented = TensorLoader(images, labels, 24, seed=3, sampling="repeated", augment=aug)
    augmented.set_epoch(1)
    x, y = next(iter(augmented))
    assert torch.equal(y.view(-1, REPEATS), y[::REPEATS, None].expand(-1, REPEATS))
    copies = x.view(-1, REPEATS, *x.shape[1:])
    assert all(not torch.equal(c[0], c[1]) or not torch.equal(c[1], c[2]) for c in copies)
    with pytest.raises(ValueError, match="sampling='repeated'.*shuffle=False"):
        TensorLoader(images, labels, 24, sampling="repeated", shuffle=False)
