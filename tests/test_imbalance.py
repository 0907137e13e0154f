"""Class-imbalance losses and per-class measures (vitcourse.pretrain.imbalance) and the tasks of
Part III's class-imbalance chapter."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vitcourse.pretrain import (balanced_accuracy, class_weights, confusion_matrix, hardest, ohem_objective,
                                per_class_accuracy, weighted_ce_objective)


def test_class_weights_are_inverse_frequency_with_sample_average_one():
    counts = [4, 2, 2]                                   # N = 8, K = 3
    w = class_weights(counts)
    assert torch.allclose(w, torch.tensor([8 / (3 * 4), 8 / (3 * 2), 8 / (3 * 2)]))  # N / (K N_c)
    assert (w * torch.tensor(counts)).sum().item() / 8 == pytest.approx(1.0)
    lt = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    w = class_weights(lt)
    assert w[-1] / w[0] == pytest.approx(100.0)          # the tail weighs ratio times the head
    soft = class_weights(lt, power=0.5)
    assert soft[-1] / soft[0] == pytest.approx(10.0)
    assert (soft * torch.tensor(lt, dtype=torch.float)).sum().item() / sum(lt) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="without training samples"):
        class_weights([10, 0, 3])


class Fixed(torch.nn.Module):
    """A 'network' that returns preset logits, so the objectives can be checked by hand."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, images):
        return self.logits


def test_weighted_objective_is_the_batch_mean_of_weighted_losses():
    logits = torch.randn(6, 3)
    targets = torch.tensor([0, 0, 1, 2, 2, 2])
    w = torch.tensor([0.5, 1.0, 3.0])
    loss, out = weighted_ce_objective(w)(Fixed(logits), None, targets)
    expected = sum(w[t] * F.cross_entropy(logits[i:i + 1], targets[i:i + 1]) for i, t in enumerate(targets)) / 6
    assert torch.allclose(loss, expected) and out is logits


def test_ohem_keeps_the_hardest_half():
    losses = torch.tensor([0.1, 5.0, 0.3, 2.0, 0.2, 4.0])
    assert sorted(hardest(losses, 0.5).tolist()) == [2.0, 4.0, 5.0]
    assert hardest(losses, 0.1).tolist() == [5.0]        # at least one sample
    logits = torch.randn(8, 4)
    targets = torch.randint(4, (8,))
    loss, _ = ohem_objective(0.5)(Fixed(logits), None, targets)
    per = F.cross_entropy(logits, targets, reduction="none")
    assert torch.allclose(loss, per.sort(descending=True).values[:4].mean())
    # Only the kept samples receive gradient.
    logits.requires_grad_(True)
    loss, _ = ohem_objective(0.5)(Fixed(logits), None, targets)
    loss.backward()
    got_grad = logits.grad.abs().sum(1) > 0
    assert got_grad.sum() == 4 and set(per.topk(4).indices.tolist()) == set(got_grad.nonzero().flatten().tolist())
    with pytest.raises(ValueError, match="keep=0"):
        hardest(losses, 0.0)


def test_confusion_matrix_and_per_class_accuracy():
    logits = torch.eye(3)[[0, 1, 1, 2, 0, 0]] * 5        # predictions 0 1 1 2 0 0
    labels = torch.tensor([0, 1, 2, 2, 1, 0])
    loader = [(torch.zeros(3, 1), labels[:3]), (torch.zeros(3, 1), labels[3:])]
    outputs = iter([logits[:3], logits[3:]])

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return next(outputs)
    confusion = confusion_matrix(Net(), loader, 3)
    assert confusion.tolist() == [[2, 0, 0], [1, 1, 0], [0, 1, 1]]
    assert np.allclose(per_class_accuracy(confusion), [1.0, 0.5, 0.5])
    assert balanced_accuracy(confusion) == pytest.approx(2 / 3)


def test_class_weighted_task_weighs_by_the_training_counts():
    from types import SimpleNamespace

    from vitcourse.lab.tasks import TaskRun
    from vitcourse.lab.tasks.imbalance import class_weighted

    data = SimpleNamespace(class_counts=lambda split: [6, 3, 1])
    setup = class_weighted(Fixed(None), TaskRun(data, "smoke", 0, "cpu"))
    logits = torch.zeros(2, 3)                          # equal per-sample losses: ln 3
    head, _ = setup.objective(Fixed(logits), None, torch.tensor([0, 0]))
    tail, _ = setup.objective(Fixed(logits), None, torch.tensor([2, 2]))
    assert tail.item() / head.item() == pytest.approx(6.0) and setup.after_fit is not None
    assert class_weighted(Fixed(None), TaskRun(None, "smoke", 0, "cpu")).objective is None


def test_every_imbalance_experiment_is_long_tailed_and_saves_per_class_results():
    from vitcourse.lab import EXPERIMENTS

    chapter = [e for e in EXPERIMENTS.values() if e.chapter == "Part III: When classes are imbalanced"]
    assert {e.profile("full")["data"]["imbalance"] for e in chapter} == {10, 100}
    for exp in chapter:
        task = exp.profile("full")["task"]
        assert task["name"] in ("per_class_eval", "class_weighted", "ohem", "mae_pretrain", "rotation_pretrain") \
            or task.get("per_class"), exp.name


def test_every_method_runs_for_the_vit_and_the_resnet_one_change_from_the_baseline():
    from vitcourse.lab import get_experiment
    from vitcourse.lab.catalog import part3_imbalance as ch5

    for arch in ("vit", "resnet18"):
        base = get_experiment(ch5.name_of(arch, 100, "ce")).profile("full")
        assert base["model"]["arch"] == arch
        assert base["data"]["augment"] == {"crop": 0, "flip": True, "rrc_scale": (0.8, 1.0)}   # the source's mild
        for suffix, *_ in ch5.METHODS[1:]:
            spec = get_experiment(ch5.name_of(arch, 100, suffix)).profile("full")
            changed = {k for k in ("task", "data", "train", "model") if spec[k] != base[k]}
            assert len(changed) == 1, (arch, suffix, changed)
    jitter = get_experiment("lt100_resnet_jitter").profile("full")["data"]["augment"]
    assert jitter["color_jitter"] > 0 and get_experiment("lt100_balanced").profile("full")["data"]["sampling"] == "class_balanced"
    # each architecture's self-supervised pre-training, then a fine-tuning from it
    assert get_experiment("lt100_mae_ft").profile("full")["task"]["experiment"] == "lt100_mae_pretrain"
    assert get_experiment("lt100_resnet_rot_ft").profile("full")["task"]["experiment"] == "lt100_resnet_rot_pretrain"


def test_rotate_batch_turns_each_image_by_its_own_quarter_turns():
    from vitcourse.pretrain import rotate_batch

    images = torch.arange(4 * 2 * 3 * 3, dtype=torch.float).view(4, 2, 3, 3)
    turns = torch.tensor([0, 1, 2, 3])
    out = rotate_batch(images, turns)
    for n in range(4):
        assert torch.equal(out[n], torch.rot90(images[n], n, dims=(-2, -1)))
    with pytest.raises(ValueError, match="square"):
        rotate_batch(torch.zeros(1, 3, 4, 5), torch.zeros(1, dtype=torch.long))


def test_rotation_pretraining_learns_to_name_the_rotation():
    """A narrow ResNet learns the rotations of an asymmetric pattern well above chance (25%)."""
    from vitcourse.models import resnet18
    from vitcourse.pretrain import RotationPrediction, rotation_accuracy

    torch.manual_seed(0)
    images = torch.rand(64, 3, 16, 16) * 0.2
    images[:, :, :6, :3] += 1.0                          # a bright bar in the top-left corner
    model = RotationPrediction(resnet18(width=4))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(40):
        loss = model(images)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first
    assert rotation_accuracy(model, [(images, None)]) > 0.9
    with pytest.raises(TypeError, match="MaskedAutoencoder"):
        from vitcourse.models import ViT
        RotationPrediction(ViT(16, patch_size=4, dim=16, depth=1, heads=2, num_classes=10))


def test_resnet_backbone_transfer_copies_everything_but_the_classifier():
    from vitcourse.models import resnet18
    from vitcourse.pretrain import RotationPrediction, transfer_backbone

    torch.manual_seed(0)
    source = RotationPrediction(resnet18(width=4))
    target = resnet18(width=4)
    fc_before = target.fc.weight.clone()
    copied = transfer_backbone(source, target)
    assert not any(name.startswith("fc.") for name in copied)
    for name, value in source.backbone.state_dict().items():
        if not name.startswith("fc."):
            assert torch.equal(target.state_dict()[name], value), name
    assert torch.equal(target.fc.weight, fc_before) and target.fc.out_features == 10
    with pytest.raises(ValueError, match="does not fit"):
        transfer_backbone(source, resnet18(width=8))


def test_resnet_rotation_finetuning_and_balanced_sampling_run_end_to_end(isolated_results, monkeypatch):
    """The smoke profiles of the new rows run through the runner: the fine-tuning starts its
    pre-training first, and the class-balanced run's train loader really samples balanced."""
    from vitcourse.data import TensorLoader
    from vitcourse.lab import paths, run_experiment
    from vitcourse.lab.arrays import saved_arrays

    log = run_experiment("lt100_resnet_rot_ft", "smoke", progress=False)
    assert log["status"] == "finished" and log["spec"]["task"]["experiment"] == "lt100_resnet_rot_pretrain"
    arrays, smoke = saved_arrays("lt100_resnet_rot_pretrain", "rotation_eval.npz")
    assert smoke and 0.0 <= float(arrays["accuracy"]) <= 1.0
    assert (paths.run_dir("lt100_resnet_rot_ft", "smoke", 0) / "per_class.npz").exists()

    seen = []
    original = TensorLoader.from_dataset.__func__

    def spy(cls, dataset, split, *args, **kwargs):
        seen.append((split, kwargs.get("sampling", "uniform")))
        return original(cls, dataset, split, *args, **kwargs)
    monkeypatch.setattr(TensorLoader, "from_dataset", classmethod(spy))
    assert run_experiment("lt100_balanced", "smoke", progress=False)["status"] == "finished"
    assert seen == [("train", "class_balanced"), ("test", "uniform")]


def test_figure_helpers_draw_from_arrays():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vitcourse.pretrain import mean_colour_classes
    from vitcourse.pretrain.plots import colour_class_image, plot_class_counts, plot_confusion, plot_per_class

    # Mean-colour classes map back to the centre of their colour bin.
    image = torch.tensor([0.9, 0.1, 0.5]).view(1, 3, 1, 1).expand(1, 3, 8, 8)
    rgb = colour_class_image(mean_colour_classes(image, 4)[0].numpy(), (2, 2))
    assert rgb.shape == (2, 2, 3) and np.allclose(rgb[0, 0], [7.5 / 8, 0.5 / 8, 4.5 / 8])
    confusion = np.diag([5, 3, 1]) + 1
    fig, axes = plt.subplots(1, 3)
    plot_class_counts({"a": [5, 3, 1]}, ["x", "y", "z"], ax=axes[0])
    plot_per_class({"m": confusion}, ["x", "y", "z"], ax=axes[1])
    plot_confusion(confusion, ["x", "y", "z"], ax=axes[2])
    assert len(axes[1].lines) == 1 and np.allclose(axes[1].lines[0].get_ydata(), 100 * per_class_accuracy(confusion))
    plt.close(fig)
