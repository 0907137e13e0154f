"""Tests for vitcourse.data's batched augmentation (GpuAugment) and TensorLoader.

All on small random uint8 batches, CPU by default; the device test runs when CUDA is present.
Colour ops are checked against PIL, whose definitions the policies were designed with.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import gen, uint8_batch
import torch.nn.functional as F
from PIL import Image, ImageEnhance, ImageOps

from vitcourse.data import PRESETS, AugmentConfig, GpuAugment, ImageDataset, TensorLoader
from vitcourse.data.augment import color
from vitcourse.data.augment.geometry import affine_theta, crop_flip, warp
from vitcourse.data.augment.mixing import mix, sample_beta, sample_mixing
from vitcourse.data.augment.policy import OPS, RANGES, apply_layer

MEAN, STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)


# Small tensor ops are far slower with two OpenMP threads on 2-core CI machines.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _aug(config=PRESETS["none"], train=True):
    return GpuAugment(config, MEAN, STD, num_classes=10, train=train)


# ---------------------------------------------------------------- config

def test_config_rejects_typos_and_bad_values():
    with pytest.raises(ValueError, match="unknown augmentation option.*'mixpu'.*mixup"):
        AugmentConfig.parse({"mixpu": 0.8})
    with pytest.raises(ValueError, match="policy must be one of .*'autoaug'"):
        AugmentConfig(policy="autoaug")
    with pytest.raises(ValueError, match="erasing must be in \\[0, 1\\], got 1.5"):
        AugmentConfig(erasing=1.5)
    with pytest.raises(ValueError, match="unknown augmentation preset 'heavy'; known: none, basic"):
        AugmentConfig.parse("heavy")
    with pytest.raises(TypeError, match="a preset name .*, a dict of AugmentConfig fields, or None; got 0.5"):
        AugmentConfig.parse(0.5)
    with pytest.raises(TypeError, match="GpuAugment takes an AugmentConfig, got 'deit'"):
        GpuAugment("deit", MEAN, STD, num_classes=10)
    deit = AugmentConfig.parse("deit")
    assert deit.mixing and AugmentConfig.parse(deit.to_dict()) == deit
    assert AugmentConfig.parse(None) == AugmentConfig.parse("none") == AugmentConfig(crop=0, flip=False)


# ---------------------------------------------------------------- geometry

@pytest.mark.parametrize("mode,pad_mode", [("reflect", "reflect"), ("zeros", "constant")])
def test_crop_flip_matches_pad_then_slice(mode, pad_mode):
    images, _ = uint8_batch(8)
    dy, dx = torch.tensor([0, 8, 3, 4, 1, 7, 2, 5]), torch.tensor([8, 0, 5, 4, 2, 6, 0, 3])
    flip = torch.tensor([True, False, True, False, True, True, False, False])
    out = crop_flip(images, dy, dx, flip, pad=4, mode=mode)
    padded = F.pad(images.float(), (4, 4, 4, 4), mode=pad_mode)
    for i in range(8):
        ref = padded[i, :, dy[i]:dy[i] + 32, dx[i]:dx[i] + 32]
        ref = ref.flip(-1) if flip[i] else ref
        assert torch.equal(out[i].float(), ref)
    assert out.dtype == torch.uint8


def test_affine_theta_rotates_and_shifts_exactly():
    x = torch.rand(2, 3, 16, 16)
    zero = torch.zeros(2)
    rotated = warp(x, affine_theta(torch.full((2,), 90.0), zero, zero, zero, zero, 16, 16), fill=0.5)
    assert torch.allclose(rotated, torch.rot90(x, 1, (2, 3)), atol=1e-5) or \
        torch.allclose(rotated, torch.rot90(x, -1, (2, 3)), atol=1e-5)
    shifted = warp(x, affine_theta(zero, zero, zero, torch.full((2,), 3.0), zero, 16, 16), fill=0.5)
    assert torch.allclose(shifted[..., 3:], x[..., :-3], atol=1e-5)
    assert torch.allclose(shifted[..., :3], torch.full_like(shifted[..., :3], 0.5), atol=1e-5)


# ---------------------------------------------------------------- colour ops against PIL

def _pil_ref(images: torch.Tensor, fn) -> torch.Tensor:
    out = [torch.from_numpy(np.array(fn(Image.fromarray(img.permute(1, 2, 0).numpy())))).permute(2, 0, 1)
           for img in images]
    return torch.stack(out).float() / 255


def _full(value):
    return lambda x: torch.full((len(x),), float(value))


# op: (ours on floats in [0, 1], PIL's on uint8 images, tolerance)
PIL_OPS = {
    "posterize": (lambda x: color.posterize(x, _full(3)(x)), lambda im: ImageOps.posterize(im, 3), 0),
    "solarize": (lambda x: color.solarize(x, _full(128 / 255)(x)), lambda im: ImageOps.solarize(im, 129), 0),
    "autocontrast": (color.autocontrast, ImageOps.autocontrast, 1),
    "equalize": (color.equalize, ImageOps.equalize, 0),
    "brightness": (lambda x: color.brightness(x, _full(1.6)(x)),
                   lambda im: ImageEnhance.Brightness(im).enhance(1.6), 1),
    "color": (lambda x: color.saturation(x, _full(0.3)(x)),
              lambda im: ImageEnhance.Color(im).enhance(0.3), 1),
    "contrast": (lambda x: color.contrast(x, _full(1.7)(x)),
                 lambda im: ImageEnhance.Contrast(im).enhance(1.7), 2),
    "sharpness": (lambda x: color.sharpness(x, _full(1.8)(x)),
                  lambda im: ImageEnhance.Sharpness(im).enhance(1.8), 1),
}


@pytest.mark.parametrize("name", sorted(PIL_OPS))
def test_colour_ops_match_pil(name):
    ours, pil, tol = PIL_OPS[name]  # tolerance in 8-bit levels
    images, _ = uint8_batch(6, seed=1)
    images[0] //= 3  # a low-contrast image, where autocontrast and equalize matter
    got = ours(images.float() / 255)
    ref = _pil_ref(images, pil)
    # PIL rounds to uint8 at every step; we round once at the end.
    assert (torch.round(got * 255) - ref * 255).abs().max() <= tol + 1e-3, name


def test_every_policy_op_runs_and_changes_images():
    # Mid-range values, so that autocontrast has something to stretch.
    x = 0.25 + 0.5 * torch.rand(len(OPS), 3, 32, 32, generator=gen(0))
    out = apply_layer(x, torch.arange(len(OPS)), torch.full((len(OPS),), 0.8), torch.ones(len(OPS)),
                      RANGES["randaug"], fill=0.5)
    changed = (out - x).abs().flatten(1).amax(1) > 1e-3
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert changed.tolist() == [name != "identity" for name in OPS]


# ---------------------------------------------------------------- the pipeline

@pytest.mark.parametrize("config", [
    PRESETS["none"], AugmentConfig(), AugmentConfig(policy="trivial"),
    AugmentConfig(policy="randaug", randaug_mstd=0.5), PRESETS["deit"],
    AugmentConfig(resize=64, erasing=1.0, erasing_mode="const"),
])
def test_pipeline_shapes_dtypes_and_determinism(config):
    images, labels = uint8_batch()
    aug = _aug(config)
    x, y = aug(images, labels, gen(5))
    size = config.resize
    assert x.shape == (64, 3, size or 32, size or 32) and x.dtype == torch.float32
    assert torch.isfinite(x).all()
    if aug.soft_targets:
        assert y.shape == (64, 10) and torch.allclose(y.sum(1), torch.ones(64))
    else:
        assert torch.equal(y, labels)
    x2, y2 = aug(images, labels, gen(5))
    assert torch.equal(x, x2) and torch.equal(y, y2)
    if config != PRESETS["none"]:
        assert not torch.equal(x, aug(images, labels, gen(6))[0])


def test_flip_and_crop_change_images_and_eval_view_does_not():
    images, labels = uint8_batch()
    plain = (images.float() / 255 - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    for config in (AugmentConfig(crop=0, flip=True), AugmentConfig(crop=4, flip=False)):
        x, _ = _aug(config)(images, labels, gen(0))
        changed = (x - plain).abs().flatten(1).amax(1) > 1e-6
        assert 0.2 < changed.float().mean() <= 1.0, config
    flips = _aug(AugmentConfig(crop=0, flip=True))
    x, _ = flips(images, labels, gen(0))
    for i in range(len(x)):  # each image is either unchanged or exactly mirrored
        assert torch.allclose(x[i], plain[i], atol=1e-6) or torch.allclose(x[i], plain[i].flip(-1), atol=1e-6)
    evaluation = _aug(PRESETS["deit"]).evaluation()
    x, y = evaluation(images, labels, gen(0))
    assert torch.allclose(x, plain, atol=1e-6) and torch.equal(y, labels)


def test_resize_for_224_models():
    images, labels = uint8_batch(4)
    x, _ = _aug(AugmentConfig(resize=224, resize_mode="bilinear"), train=False)(images, labels)
    assert x.shape == (4, 3, 224, 224)


def test_beta_sampler_moments():
    for alpha in (0.2, 0.8, 1.0, 2.0):
        lam = sample_beta(alpha, 40_000, gen(1), torch.device("cpu"))
        assert 0 <= lam.min() and lam.max() <= 1
        assert abs(lam.mean() - 0.5) < 0.01
        assert abs(lam.var() - 1 / (4 * (2 * alpha + 1))) < 0.01, alpha


def test_mixup_and_cutmix_targets_match_pixels():
    n = 256
    x, partner = torch.zeros(n, 1, 32, 32), torch.ones(n, 1, 32, 32)
    y, y_partner = torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)
    for mixup, cutmix in ((0.8, 0.0), (0.0, 1.0), (0.8, 1.0)):
        params = sample_mixing(n, mixup, cutmix, 1.0, 0.5, gen(2), torch.device("cpu"))
        out, targets = mix(x, partner, y, y_partner, params, num_classes=3)
        assert torch.allclose(targets.sum(1), torch.ones(n))
        # The share of the partner in the pixels equals its weight in the target, per image.
        assert torch.allclose(out.mean((1, 2, 3)), targets[:, 1], atol=1e-5)
        assert targets[:, 2].abs().max() == 0
        if cutmix and not mixup:
            assert set(out.unique().tolist()) <= {0.0, 1.0}


def test_erasing_boxes():
    images, labels = uint8_batch(200)
    x, _ = _aug(AugmentConfig(crop=0, flip=False, erasing=1.0, erasing_mode="const"))(images, labels, gen(3))
    erased = (x == 0).all(1).float().mean((1, 2))
    assert (erased >= 0.01).all() and (erased <= 0.34).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_same_parameters_same_result_on_cuda():
    images, labels = uint8_batch(32)
    aug = _aug(PRESETS["deit"])
    params = aug.sample(32, (3, 32, 32), gen(0), "cpu")
    on_cpu, t_cpu = aug.apply(images, labels, params)
    to_cuda = lambda p: {k: to_cuda(v) for k, v in p.items()} if isinstance(p, dict) else (
        [to_cuda(v) for v in p] if isinstance(p, list) else p.cuda())
    on_gpu, t_gpu = aug.apply(images.cuda(), labels.cuda(), to_cuda(params))
    assert on_gpu.device.type == "cuda"
    assert (on_gpu.cpu() - on_cpu).abs().max() < 1e-3 and torch.allclose(t_gpu.cpu(), t_cpu, atol=1e-6)
    # And sampling with a CUDA generator runs end to end on the device.
    x, y = aug(images.cuda(), labels.cuda(), gen(0, "cuda"))
    assert x.device.type == "cuda" and y.shape == (32, 10)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_loader_never_waits_for_the_gpu():
    # A host-device sync per batch would stall the training loop: the batch pipeline must not
    # need one (the first epoch warms the per-device caches).
    loader = _loader(256, 64, device="cuda", augment=_aug(PRESETS["deit"]))
    assert loader.images.device.type == "cuda"
    list(loader)
    loader.set_epoch(1)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        batches = list(loader)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert len(batches) == 4 and batches[0][0].device.type == "cuda"


# ---------------------------------------------------------------- the loader

def _loader(n=100, batch=16, **kw):
    images, labels = uint8_batch(n, seed=9)
    return TensorLoader(images, labels, batch, **kw)


def test_loader_len_shapes_and_full_coverage():
    loader = _loader(100, 16, drop_last=False, seed=1)
    batches = list(loader)
    assert len(loader) == len(batches) == 7 and len(batches[-1][1]) == 4
    assert batches[0][0].dtype == torch.float32 and batches[0][0].max() <= 1
    assert len(_loader(100, 16, drop_last=True)) == 6
    seen = torch.cat([y for _, y in batches])
    assert torch.equal(seen.sort().values, loader.labels.sort().values)


def test_loader_epochs_are_reproducible_for_resume():
    aug = _aug(PRESETS["deit"])
    a, b = _loader(augment=aug, seed=4), _loader(augment=aug, seed=4)
    a.set_epoch(0)
    epoch0 = [x for x, _ in a]
    a.set_epoch(1)
    epoch1 = [x for x, _ in a]
    assert not torch.equal(epoch0[0], epoch1[0])
    b.set_epoch(1)  # a "resumed" run jumps straight to epoch 1
    for (x, t), ref in zip(b, epoch1):
        assert torch.equal(x, ref) and t.shape == (16, 10)
    a.set_epoch(0)
    assert all(torch.equal(x, ref) for (x, _), ref in zip(a, epoch0))


@pytest.mark.parametrize("config", [None, PRESETS["deit"]])
def test_two_ranks_get_disjoint_equal_shards_that_rebuild_the_batch(config):
    kwargs = dict(n=96, batch=32, seed=2, augment=_aug(config) if config else None)
    single = _loader(**kwargs)
    ranks = [_loader(rank=r, world_size=2, **kwargs) for r in range(2)]
    for loader in (single, *ranks):
        loader.set_epoch(3)
    order = single._order()
    for b, ((x, y), (x0, y0), (x1, y1)) in enumerate(zip(single, *ranks)):
        assert len(x0) == len(x1) == 16 and len(single) == len(ranks[0]) == len(ranks[1])
        rows = order[b * 32:(b + 1) * 32]
        assert not set(rows[0::2].tolist()) & set(rows[1::2].tolist())
        assert torch.allclose(x[0::2], x0, atol=1e-6) and torch.allclose(x[1::2], x1, atol=1e-6)
        assert torch.equal(y[0::2], y0) and torch.equal(y[1::2], y1)


def test_loader_from_dataset_and_argument_errors():
    images, labels = uint8_batch(40, seed=3)
    ds = ImageDataset(name="cifar10", classes=[str(i) for i in range(10)], train_images=images,
                      train_labels=labels, test_images=images[:10], test_labels=labels[:10],
                      provenance="synthetic", source="test")
    train = TensorLoader.from_dataset(ds, "train", 8, augment=AugmentConfig(policy="trivial"), seed=0)
    test = TensorLoader.from_dataset(ds, "test", 4, augment=AugmentConfig(policy="trivial", resize=48))
    assert len(train) == 5 and len(test) == 3
    x, y = next(iter(test))
    assert x.shape == (4, 3, 48, 48) and torch.equal(y, labels[:4])
    with pytest.raises(ValueError, match="multiple of world_size=3"):
        TensorLoader(images, labels, 16, world_size=3)
    with pytest.raises(ValueError, match="rank 2 is not in 0..1"):
        TensorLoader(images, labels, 16, rank=2, world_size=2)
    with pytest.raises(ValueError, match="only 40 samples for batch_size 64"):
        TensorLoader(images, labels, 64)


# ---------------------------------------------------------------- compiled pipeline

def test_the_compiled_pipeline_computes_what_the_eager_one_does_and_falls_back_when_it_fails():
    """Compiled runs fuse the augmentation's many small ops (one torch.compile, tens of seconds):
    same parameters, same images up to float rounding; a compiler failure warns and runs eagerly."""
    config = AugmentConfig.parse("deit")          # crop, flip, RandAugment, erasing, Mixup/CutMix
    eager = GpuAugment(config, MEAN, STD, num_classes=10)
    compiled = GpuAugment(config, MEAN, STD, num_classes=10, compile=True)
    assert GpuAugment(config, MEAN, STD, num_classes=10, train=False, compile=True)._compiled is None
    images, labels = uint8_batch(32, seed=3)
    params = eager.sample(32, (3, 32, 32), gen(5), "cpu")
    (x_c, y_c), (x_e, y_e) = compiled.apply(images, labels, params), eager.apply(images, labels, params)
    assert compiled._compiled is not None
    assert torch.allclose(x_c, x_e, atol=1e-4) and torch.equal(y_c, y_e)

    def broken(*args):
        raise RuntimeError("no compiler here")
    compiled._compiled = broken
    with pytest.warns(UserWarning, match="compiling the augmentation failed.*runs eagerly"):
        x_f, _ = compiled.apply(images, labels, params)
    assert torch.equal(x_f, x_e) and compiled._compiled is None
