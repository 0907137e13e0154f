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

    from vitcourse.experiments.tasks_transfer import class_weighted

    data = SimpleNamespace(class_counts=lambda split: [6, 3, 1])
    setup = class_weighted(model=Fixed(None), dataset=data, profile="smoke", seed=0, device="cpu")
    logits = torch.zeros(2, 3)                          # equal per-sample losses: ln 3
    head, _ = setup.objective(Fixed(logits), None, torch.tensor([0, 0]))
    tail, _ = setup.objective(Fixed(logits), None, torch.tensor([2, 2]))
    assert tail.item() / head.item() == pytest.approx(6.0) and setup.after_fit is not None
    assert class_weighted(model=Fixed(None), dataset=None, profile="smoke", seed=0, device="cpu").objective is None


def test_every_imbalance_experiment_is_long_tailed_and_saves_per_class_results():
    from vitcourse.experiments import EXPERIMENTS

    chapter = [e for e in EXPERIMENTS.values() if e.chapter == "Part III: When classes are imbalanced"]
    assert {e.profile("full")["data"]["imbalance"] for e in chapter} == {10, 100}
    for exp in chapter:
        task = exp.profile("full")["task"]
        assert task["name"] in ("per_class_eval", "class_weighted", "ohem", "mae_pretrain") or task.get("per_class"), exp.name


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
