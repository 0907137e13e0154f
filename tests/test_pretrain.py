"""Pre-training and transfer (vitcourse.pretrain and the tasks of Part III's transfer chapter):
masking, the MAE and masked-patch-prediction objectives, weight transfer, the linear probe, the
encoder learning-rate scale (parameter groups with `lr_scale`), and loading timm weights from a local file or failing clearly offline."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from vitcourse.models import ViT
from vitcourse.pretrain import (KEPT, MASKED, RANDOM, UNTOUCHED, LinearProbe, MaskedAutoencoder,
                                MaskedPatchPrediction, PretrainedWeightsUnavailable,
                                class_subset_objective, corrupt_patches, encoder_of, load_pretrained,
                                masked_mse, mean_colour_classes, patchify, random_subset, transfer_encoder,
                                unpatchify)
from vitcourse.train import TrainConfig, build_optimizer, param_groups
from vitcourse.train.optim import Schedule



def tiny_vit(image_size=32, patch=8, classes=10, seed=0, **kw):
    torch.manual_seed(seed)
    return ViT(image_size, patch, 3, classes, dim=32, depth=2, heads=2, mlp_ratio=2.0, **kw)


# ---- masking and MAE ----------------------------------------------------------------------------

def test_random_subset_picks_exactly_k_distinct_positions_and_restores_order():
    chosen, rest, restore = random_subset(5, 16, 4, generator=torch.Generator().manual_seed(0))
    assert chosen.shape == (5, 4) and rest.shape == (5, 12)
    for c, r in zip(chosen, rest):
        assert sorted(torch.cat([c, r]).tolist()) == list(range(16))
    seq = torch.cat([chosen, rest], dim=1)
    assert torch.equal(torch.gather(seq, 1, restore), torch.arange(16).expand(5, -1))
    images = torch.randn(2, 3, 32, 32)
    assert torch.equal(unpatchify(patchify(images, 8), 8, (4, 4)), images)


def test_mae_keeps_exactly_the_visible_count_and_loss_covers_hidden_patches_only():
    mae = MaskedAutoencoder(tiny_vit(patch=4), mask_ratio=0.75, decoder_dim=16, decoder_depth=1, decoder_heads=2)
    assert mae.num_visible == 16                                  # 64 patches, 25% visible
    images = torch.randn(3, 3, 32, 32)
    out = mae.run(images, torch.Generator().manual_seed(1))
    assert torch.equal(out.mask.sum(1), torch.full((3,), 48.0))   # 48 hidden per image
    # A prediction that is right on every hidden patch and wrong on every visible one costs 0 ...
    perfect_where_hidden = torch.where(out.mask.bool().unsqueeze(-1), out.target, out.target + 5.0)
    assert masked_mse(perfect_where_hidden, out.target, out.mask).item() == 0.0
    # ... and one wrong only on the hidden patches costs exactly the hidden error.
    wrong_hidden = torch.where(out.mask.bool().unsqueeze(-1), out.target + 2.0, out.target)
    assert masked_mse(wrong_hidden, out.target, out.mask).item() == pytest.approx(4.0)
    assert out.loss.item() > 0 and out.pred.shape == out.target.shape == (3, 64, 48)


def test_mae_encoder_never_sees_hidden_pixels():
    mae = MaskedAutoencoder(tiny_vit(patch=8), mask_ratio=0.5, decoder_dim=16, decoder_depth=1, decoder_heads=2).eval()
    images = torch.randn(2, 3, 32, 32)
    visible, hidden, _ = random_subset(2, 16, mae.num_visible, generator=torch.Generator().manual_seed(3))
    changed = patchify(images, 8).clone()
    for b in range(2):
        changed[b, hidden[b]] += 10.0                              # scramble only the hidden patches
    altered = unpatchify(changed, 8, (4, 4))
    with torch.no_grad():
        assert torch.allclose(mae.encode_visible(images, visible), mae.encode_visible(altered, visible))
        assert mae.encode_visible(images, visible).shape == (2, 1 + 8, 32)   # class token + visible only


def test_mae_rejects_a_ratio_that_hides_everything():
    with pytest.raises(ValueError, match="mask_ratio=1.0"):
        MaskedAutoencoder(tiny_vit(), mask_ratio=1.0)


# ---- masked patch prediction --------------------------------------------------------------------

def test_mpp_corrupts_half_with_80_10_10_split():
    tokens = torch.randn(64, 256, 8)
    mask_token = torch.full((1, 1, 8), 7.0)
    out, corrupted, kind = corrupt_patches(tokens, mask_token, generator=torch.Generator().manual_seed(0))
    assert torch.equal(corrupted.sum(1), torch.full((64,), 128))   # exactly 50% per image
    assert torch.equal(corrupted, kind != UNTOUCHED)
    shares = [(kind == k).sum().item() / corrupted.sum().item() for k in (MASKED, RANDOM, KEPT)]
    assert shares == pytest.approx([0.8, 0.1, 0.1], abs=0.015)
    assert torch.equal(out[kind == MASKED], mask_token[0].expand((kind == MASKED).sum(), -1))
    for k in (KEPT, UNTOUCHED):
        assert torch.equal(out[kind == k], tokens[kind == k])
    swapped = out[kind == RANDOM]
    assert not (swapped == tokens[kind == RANDOM]).all(dim=1).any()     # another patch, never itself
    pool = tokens.reshape(-1, 8)
    assert all((pool == row).all(dim=1).any() for row in swapped[:50])  # ... but a real patch


def test_mean_colour_targets_have_512_classes():
    colours = torch.tensor([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0.5, 0.25, 0.125]])
    images = colours.view(4, 3, 1, 1).expand(4, 3, 16, 16)
    classes = mean_colour_classes(images, patch_size=8, bits=3)
    assert classes.shape == (4, 4)
    assert classes[:, 0].tolist() == [0, 511, 7 * 64, 4 * 64 + 2 * 8 + 1]
    mpp = MaskedPatchPrediction(tiny_vit())
    assert mpp.num_colours == 512 and mpp.colour_head.out_features == 512
    assert mpp(torch.randn(2, 3, 32, 32)).item() == pytest.approx(math.log(512), abs=1e-4)  # zero head


# ---- transfer, probe, lr scale ------------------------------------------------------------------

def test_transfer_copies_the_encoder_exactly_but_not_the_head():
    source = MaskedAutoencoder(tiny_vit(seed=1), decoder_dim=16, decoder_depth=1, decoder_heads=2)
    target = tiny_vit(seed=2)
    copied = transfer_encoder(source, target)
    assert copied and not any(n.startswith("head.") for n in copied)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(target.forward_features(x), encoder_of(source).forward_features(x))
    assert torch.count_nonzero(target.head.weight) == 0


def test_transfer_to_a_higher_resolution_resamples_positions():
    source, target = tiny_vit(seed=1), tiny_vit(image_size=48, seed=2)
    transfer_encoder(source, target)
    assert source.image_size == (32, 32)                          # the source is left as it was
    expected = copy.deepcopy(source).set_image_size(48).pos_embed.weight
    assert torch.equal(target.pos_embed.weight, expected) and target.pos_embed.weight.shape[1] == 37
    with pytest.raises(ValueError, match="dim, depth, heads"):
        transfer_encoder(source, ViT(32, 8, 3, 10, dim=64, depth=2, heads=2))
    with pytest.raises(ValueError, match="patch size 8"):
        transfer_encoder(source, ViT(32, 4, 3, 10, dim=32, depth=2, heads=2))


def test_linear_probe_trains_only_the_head():
    probe = LinearProbe(tiny_vit(drop_path=0.5), num_classes=10)
    assert all(not p.requires_grad for p in probe.backbone.parameters())
    assert [n for n, p in probe.named_parameters() if p.requires_grad] == ["head.weight", "head.bias"]
    probe.train()
    assert probe.training and not probe.backbone.training           # no drop-path noise in features
    before = copy.deepcopy(probe.backbone.state_dict())
    opt = build_optimizer(probe, TrainConfig(lr=0.1))
    for _ in range(2):
        loss = F.cross_entropy(probe(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(torch.equal(v, probe.backbone.state_dict()[k]) for k, v in before.items())
    assert torch.count_nonzero(probe.head.weight) > 0


def _mlp(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_lr_scales_equal_a_reference_update_at_the_smaller_learning_rate(optimizer):
    # A small MLP, not a ViT: a ViT's key bias has an exactly-zero true gradient (softmax ignores
    # it), so Adam amplifies rounding noise there and no two runs agree on it.
    lr, wd, scale = 0.05, 0.1, 0.01
    config = TrainConfig(optimizer=optimizer, lr=lr, min_lr=0.0, weight_decay=wd, warmup_epochs=0,
                         epochs=1, momentum=0.9, nesterov=True)
    a, b = _mlp(3), _mlp(3)
    opt = build_optimizer(b, config, lr_scales={"": scale, "2.": 1.0})   # the first layer at lr/100
    schedule = Schedule(config, steps_per_epoch=4)
    # Reference: the update written out by hand (PyTorch's AdamW, or SGD with Nesterov momentum),
    # the first layer's step times `scale`, decoupled weight decay included.
    state = {n: {"m": torch.zeros_like(p), "v": torch.zeros_like(p)} for n, p in a.named_parameters()}
    torch.manual_seed(0)
    for t in range(4):
        x, y = torch.randn(16, 8), torch.randint(3, (16,))
        base = schedule.apply(opt, t)
        opt.zero_grad()
        F.cross_entropy(b(x), y).backward()
        opt.step()
        a.zero_grad()
        F.cross_entropy(a(x), y).backward()
        with torch.no_grad():
            for name, p in a.named_parameters():
                step_lr = base * (scale if name.startswith("0.") else 1.0)
                decay = wd if p.ndim > 1 else 0.0      # biases are never decayed
                s, g = state[name], p.grad
                if optimizer == "adamw":
                    p.mul_(1 - step_lr * decay)
                    s["m"].mul_(0.9).add_(g, alpha=0.1)
                    s["v"].mul_(0.999).addcmul_(g, g, value=0.001)
                    m_hat, v_hat = s["m"] / (1 - 0.9 ** (t + 1)), s["v"] / (1 - 0.999 ** (t + 1))
                    p.sub_(step_lr * m_hat / (v_hat.sqrt() + 1e-8))
                else:
                    g = g + decay * p
                    s["m"] = g.clone() if t == 0 else s["m"].mul(0.9).add(g)
                    p.sub_(step_lr * (g + 0.9 * s["m"]))
    groups = {g["group"]: g for g in opt.param_groups}
    assert {g["lr_scale"] for g in opt.param_groups} == {1.0, scale}
    assert groups["decay x0.01"]["lr"] == pytest.approx(scale * groups["decay"]["lr"])
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-6), name
    first = _mlp(3)[0].weight
    assert not torch.allclose(a[0].weight, first)                  # it did move, by a little
    assert (b[0].weight - first).abs().max() < 0.02 * (b[2].weight - _mlp(3)[2].weight).abs().max()


def test_lr_scales_take_the_longest_prefix_and_refuse_unknown_ones():
    model = _mlp(0)
    groups = param_groups(model, 0.1, {"": 0.5, "2.": 1.0, "2.bias": 0.0})
    scale_of = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    assert [scale_of[id(p)] for p in model.parameters()] == [0.5, 0.5, 1.0, 0.0]
    assert [g["group"] for g in param_groups(model, 0.1)] == ["decay", "no_decay"]
    with pytest.raises(ValueError, match="match no parameter"):
        param_groups(model, 0.1, {"encoder.": 0.01})
    with pytest.raises(ValueError, match="must be in"):
        param_groups(model, 0.1, {"0.": 2.0})


def test_class_subset_objective_trains_only_on_the_chosen_classes():
    net = tiny_vit()
    images, targets = torch.randn(6, 3, 32, 32), torch.tensor([0, 5, 1, 7, 4, 9])
    loss, logits = class_subset_objective([0, 1, 4])(net, images, targets)
    keep = torch.tensor([0, 2, 4])
    expected = F.cross_entropy(net(images[keep])[:, [0, 1, 4]], torch.tensor([0, 1, 2]))
    assert logits is None and torch.allclose(loss, expected)


# ---- timm weights: local file and the offline error --------------------------------------------

def _save_random_timm(name, path):
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False).eval()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return model


def test_vit_weights_load_from_a_local_safetensors_file(tmp_path, monkeypatch):
    timm_model = _save_random_timm("vit_tiny_patch16_224", tmp_path / "vit_tiny_patch16_224.safetensors")
    x = torch.randn(1, 3, 224, 224)
    vit = load_pretrained("vit_tiny_patch16_224", weights=tmp_path / "vit_tiny_patch16_224.safetensors")
    with torch.no_grad():
        assert (vit.eval()(x) - timm_model(x)).abs().max() <= 1e-5
    # The offline route the chapter documents: a folder named by VITCOURSE_WEIGHTS_DIR.
    monkeypatch.setenv("VITCOURSE_WEIGHTS_DIR", str(tmp_path))
    from vitcourse.lab.tasks import TaskRun
    from vitcourse.lab.tasks.transfer import timm_pretrained
    target = ViT(224, 16, 3, 10, dim=192, depth=12, heads=3)
    timm_pretrained(target, TaskRun(object(), "smoke", 0, "cpu"), timm_name="vit_tiny_patch16_224")
    with torch.no_grad():
        assert torch.allclose(target.forward_features(x), vit.forward_features(x))


def test_resnet18_weights_load_from_a_local_safetensors_file(tmp_path):
    timm_model = _save_random_timm("resnet18", tmp_path / "r18.safetensors")
    net = load_pretrained("resnet18", weights=tmp_path / "r18.safetensors").eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(net(x), timm_model(x), atol=1e-5)


def test_missing_weights_offline_give_a_clear_error_naming_the_fix(monkeypatch, tmp_path):
    import vitcourse.pretrain.pretrained as pretrained

    monkeypatch.delenv("VITCOURSE_WEIGHTS_DIR", raising=False)

    def no_network(name, weights=None, **kw):
        raise OSError("We couldn't connect to 'https://huggingface.co'")
    monkeypatch.setattr(pretrained, "load_timm_vit", no_network)
    with pytest.raises(PretrainedWeightsUnavailable) as err:
        load_pretrained("vit_base_patch16_224")
    text = str(err.value)
    for needed in ("vit_base_patch16_224", "download failed", "couldn't connect",
                   "huggingface.co/timm/vit_base_patch16_224.augreg2_in21k_ft_in1k/resolve/main/model.safetensors",
                   "VITCOURSE_WEIGHTS_DIR", "vit_base_patch16_224.safetensors"):
        assert needed in text, needed
    with pytest.raises(PretrainedWeightsUnavailable, match="offline=True"):
        load_pretrained("resnet18", offline=True)
    with pytest.raises(PretrainedWeightsUnavailable, match="does not exist"):
        load_pretrained("resnet18", weights=tmp_path / "nope.safetensors")


# ---- experiments: registration, profiles, the online opt-in -------------------------------------

def test_every_finetuning_is_registered_after_its_pretraining():
    from vitcourse.lab import EXPERIMENTS
    order = list(EXPERIMENTS)
    mine = ("Part III: Pre-training and transfer", "Part III: When classes are imbalanced")
    for name, exp in EXPERIMENTS.items():
        source = exp.profile("full").get("task", {}).get("experiment") if exp.chapter in mine else None
        if source:
            assert order.index(source) < order.index(name), (source, name)
            assert exp.profile("full")["model"] == EXPERIMENTS[source].profile("full")["model"]


def test_online_experiments_stay_out_of_the_offline_suite(monkeypatch):
    from vitcourse.lab import get_experiment, pending
    from vitcourse.lab.budget import experiment_gpu_minutes

    exp = get_experiment("timm_vit_b16_ft")
    monkeypatch.delenv("VITCOURSE_ONLINE", raising=False)
    assert exp.requires_network and exp.seeds_for("full") == () and experiment_gpu_minutes(exp) == 0
    assert not [n for n, _ in pending("full") if n.startswith("timm_")]
    monkeypatch.setenv("VITCOURSE_ONLINE", "1")
    assert exp.seeds_for("full") == (0,) and experiment_gpu_minutes(exp) > 1


# ---- tasks end to end on the offline CIFAR-10 copy ----------------------------------------------

from helpers import MICRO_DATA, MICRO_TRAIN  # noqa: E402
from helpers import MICRO_MODEL as MICRO  # noqa: E402
from vitcourse.lab import EXPERIMENTS, Experiment  # noqa: E402

PAIR = [
    Experiment(name="_t_pre", chapter="tests", description="micro MAE pre-training",
               base=dict(model=MICRO, data=MICRO_DATA,
                         train=MICRO_TRAIN, task=dict(name="mae_pretrain", decoder_dim=16,
                                                      decoder_depth=1, decoder_heads=2))),
    Experiment(name="_t_ft", chapter="tests", description="micro fine-tuning, encoder at lr/100",
               base=dict(model=MICRO, data=dict(dataset="cifar10", fraction=0.01, augment={"resize": 48}),
                         train=MICRO_TRAIN, task=dict(name="finetune_from", experiment="_t_pre",
                                                      encoder_lr_scale=0.01, per_class=True))),
]


@pytest.fixture
def sandbox(isolated_results, registered):
    registered(*PAIR)
    return isolated_results


def test_finetune_runs_its_smoke_pretraining_and_starts_from_its_encoder(sandbox):
    import numpy as np
    from vitcourse.lab import load_trained_model, paths, run_experiment

    log = run_experiment("_t_ft", "smoke", progress=False)      # runs _t_pre (smoke) first
    assert log["status"] == "finished"
    pre = load_trained_model("_t_pre", "smoke")
    assert isinstance(pre, MaskedAutoencoder)
    tuned = load_trained_model("_t_ft", "smoke")
    assert tuned.image_size == (48, 48) and tuned.pos_embed.weight.shape[1] == 1 + 36  # grid 4x4 -> 6x6
    # The encoder moved only a little (lr/100) from the pre-trained one, the head a lot more.
    moved = (tuned.blocks[0].mlp.fc1.weight - pre.encoder.blocks[0].mlp.fc1.weight).abs().max()
    assert 0 < moved < 1e-3 < tuned.head.weight.abs().max()
    confusion = np.load(paths.run_dir("_t_ft", "smoke", 0) / "per_class.npz")["confusion"]
    assert confusion.shape == (10, 10) and confusion.sum() == 10_000
    # The pre-training left its reconstructions beside its log (one test image per class).
    from vitcourse.lab.arrays import saved_arrays
    arrays, smoke = saved_arrays("_t_pre", "reconstructions.npz")
    assert smoke and arrays["original"].shape == arrays["reconstruction"].shape == (8, 3, 32, 32)
    assert arrays["original"].dtype == np.uint8 and arrays["mask"].sum(1).tolist() == [12] * 8

    # The probe task starts from the same encoder, frozen (called as the runner calls it).
    from vitcourse.lab.runner import trained_model
    from vitcourse.lab.tasks import TaskRun
    from vitcourse.lab.tasks.transfer import linear_probe
    micro = {k: v for k, v in MICRO.items() if k != "arch"}
    probe = linear_probe(ViT(32, in_channels=3, num_classes=10, **micro), TaskRun(object(), "smoke", 0, "cpu", trained_model),
                         experiment="_t_pre").model
    assert isinstance(probe, LinearProbe)
    assert torch.equal(probe.backbone.blocks[0].mlp.fc1.weight, pre.encoder.blocks[0].mlp.fc1.weight)
    # Rebuilding for load_trained_model (dataset=None) gives the structure without fetching weights.
    rebuilt = linear_probe(ViT(32, in_channels=3, num_classes=10, **micro), TaskRun(None, "full", 0, "cpu"),
                           experiment="_t_pre").model
    assert isinstance(rebuilt, LinearProbe)


def test_full_finetune_without_its_pretraining_names_the_command(sandbox):
    from vitcourse.lab import run_experiment

    with pytest.raises(RuntimeError, match="python -m vitcourse run _t_pre --profile full --seed 0"):
        run_experiment("_t_ft", "full", progress=False)


def test_a_finetuning_refuses_a_pretraining_of_an_older_spec(sandbox):
    """Full profile: the pre-training's spec changed after it ran, so its weights are not the
    current experiment's: the fine-tuning stops and names the key (no silent transfer)."""
    import dataclasses

    from vitcourse.lab import run_experiment
    from vitcourse.lab.stale import StaleRunError

    assert run_experiment("_t_pre", "full", progress=False)["status"] == "finished"
    pre = EXPERIMENTS["_t_pre"]
    EXPERIMENTS["_t_pre"] = dataclasses.replace(pre, base={**pre.base, "task": {**pre.base["task"], "mask_ratio": 0.5}})
    with pytest.raises(StaleRunError, match="task.mask_ratio"):
        run_experiment("_t_ft", "full", progress=False)
