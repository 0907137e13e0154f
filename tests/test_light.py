"""Chapter 7's lightweight-ViT functions on tiny models, the distillation tasks end to end on the
offline CIFAR-10 copy, the Part III table, and the GPU budget of chapters 6 and 7."""

import os
import shutil

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vitcourse.lab import Experiment, get_experiment, load_trained_model, run_experiment
from vitcourse.lab import paths
from vitcourse.lab.budget import ASSUMED, ASSUMED_TFLOPS, experiment_gpu_minutes, images_per_epoch
from vitcourse.models.flops import forward_flops
from vitcourse.lab.arrays import check_arrays, load_arrays
from vitcourse.light import (DistilledViT, distillation_loss, distillation_objective, format_rows,
                             head_importance, linear_layer_counts, mask_heads, mfu, model_flops,
                             peak_flops, prune_heads, pruning_order, quantize_linear_int8, rows_to_arrays,
                             speed_sweep, vit_flops)
from vitcourse.lab.part3_table import part3_rows
from vitcourse.lab.tasks import TaskRun
from vitcourse.light import record
from vitcourse.light.speed import SpeedConfig
from vitcourse.models import ViT, resnet18

from helpers import MICRO_DATA, MICRO_MODEL, MICRO_TRAIN
from test_interpret import fake_dataset, tiny_vit



# --- distillation ---------------------------------------------------------------------------------

def test_kd_loss_equals_cross_entropy_for_a_one_hot_teacher_at_tau_1_alpha_1():
    torch.manual_seed(0)
    student, labels = torch.randn(8, 10), torch.randint(0, 10, (8,))
    one_hot_teacher = 1000.0 * F.one_hot(labels, 10).float()   # softmax of this is exactly one-hot
    loss = distillation_loss(student, one_hot_teacher, labels, "soft", alpha=1.0, tau=1.0)
    assert loss.item() == pytest.approx(F.cross_entropy(student, labels).item(), rel=1e-6)


def test_kd_loss_terms():
    torch.manual_seed(0)
    s, t, y = torch.randn(6, 5), torch.randn(6, 5), torch.randint(0, 5, (6,))
    # alpha = 0: only the labels count (with label smoothing); the teacher is ignored.
    assert distillation_loss(s, t, y, alpha=0.0, label_smoothing=0.1).item() == pytest.approx(
        F.cross_entropy(s, y, label_smoothing=0.1).item(), rel=1e-6)
    # A student equal to the teacher has nothing left to learn from it.
    assert distillation_loss(t, t, y, alpha=1.0, tau=3.0).item() == pytest.approx(0.0, abs=1e-6)
    # Hard distillation: the teacher's argmax is a second label.
    hard = distillation_loss(s, t, y, "hard", alpha=1.0)
    assert hard.item() == pytest.approx(F.cross_entropy(s, t.argmax(1)).item(), rel=1e-6)
    # tau^2 scaling: the soft term's size is comparable across temperatures.
    kl = F.kl_div(F.log_softmax(s / 2, 1), F.softmax(t / 2, 1), reduction="batchmean")
    assert distillation_loss(s, t, y, alpha=1.0, tau=2.0).item() == pytest.approx(4 * kl.item(), rel=1e-5)
    with pytest.raises(ValueError, match="kind"):
        distillation_loss(s, t, y, "medium")
    with pytest.raises(ValueError, match="alpha"):
        distillation_loss(s, t, y, alpha=1.5)


def tiny_deit(**kw):
    torch.manual_seed(0)
    return DistilledViT(**{**dict(image_size=16, patch_size=4, num_classes=10, dim=32, depth=2, heads=4,
                                  mlp_ratio=2.0), **kw})


def test_distillation_token_vit():
    model, plain, x = tiny_deit(), tiny_vit(), torch.randn(3, 3, 16, 16)
    assert model.num_prefix == 2 and model.pos_embed().shape == (1, 16 + 2, 32)
    extra = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == 32 + 32 + (32 * 10 + 10)  # token, its position row, its head
    model.train()
    cls_logits, dist_logits = model(x)
    model.eval()
    assert torch.allclose(model(x), (cls_logits + dist_logits) / 2, atol=1e-6)
    assert model.attention_maps(x)[0].shape == (3, 4, 18, 18)
    assert type(DistilledViT(**{k: v for k, v in model.config.items() if k != "distillation_token"})) is DistilledViT
    with pytest.raises(ValueError, match="pool='cls'"):
        tiny_deit(pool="gap")


def test_distillation_objective_routes_the_teacher_to_the_distillation_head():
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 10))
    student, x, y = tiny_deit().train(), torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))
    nn.init.normal_(student.head_dist.weight)
    loss, logits = distillation_objective(teacher, "soft", alpha=0.0)(student, x, y)
    loss.backward()
    assert logits.shape == (4, 10)
    assert student.head_dist.weight.grad.abs().sum() == 0       # alpha 0: no teacher signal
    assert student.head.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters()) and not teacher.training


# --- pruning ---------------------------------------------------------------------------------------

def test_pruning_no_heads_leaves_outputs_unchanged_and_pruning_equals_masking():
    model, x = tiny_vit(), torch.randn(2, 3, 16, 16)
    for block in model.blocks:  # a nonzero head, so the output depends on the attention
        nn.init.normal_(block.attn.proj.bias)
    nn.init.normal_(model.head.weight)
    with torch.no_grad():
        ref = model(x)
        assert torch.equal(prune_heads(model, {})(x), ref)
        assert torch.equal(prune_heads(model, [])(x), ref)
        drop = [(0, 1), (0, 3), (1, 0)]
        pruned = prune_heads(model, drop)
        mask = torch.ones(2, 4)
        for l, h in drop:
            mask[l, h] = 0
        with mask_heads(model, mask):
            masked = model(x)
        assert not torch.allclose(masked, ref)
        assert torch.allclose(pruned(x), masked, atol=1e-5)
    assert [b.attn.heads for b in pruned.blocks] == [2, 3] and model.blocks[0].attn.heads == 4
    saved = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in pruned.parameters())
    assert saved == 3 * (3 * 32 * 8 + 3 * 8) + 3 * (8 * 32)  # per head: U_qkv rows (+bias), U_msa columns
    assert vit_flops(pruned) < vit_flops(model)
    with pytest.raises(ValueError, match="at least one"):
        prune_heads(model, {0: [0, 1, 2, 3]})


def test_head_importance_and_pruning_order():
    model = tiny_vit()
    nn.init.normal_(model.head.weight)
    batches = [(torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))) for _ in range(2)]
    imp = head_importance(model, batches)
    assert imp.shape == (2, 4) and torch.all(imp >= 0)
    assert torch.allclose(imp.norm(dim=1), torch.ones(2), atol=1e-5)
    order = pruning_order(torch.tensor([[0.1, 0.9, 0.5, float("nan")], [0.2, 0.3, 0.05, 0.8]]))
    assert order[:2] == [(1, 2), (0, 0)]
    assert sum(l == 0 for l, _ in order) == 2 and sum(l == 1 for l, _ in order) == 3  # one head left each
    assert all(p.grad is None for p in model.parameters())


# --- quantization, FLOPs, speed ----------------------------------------------------------------------

def test_int8_dynamic_quantization_replaces_every_linear_and_still_runs():
    model, x = tiny_vit(), torch.randn(4, 3, 16, 16)
    nn.init.normal_(model.head.weight, std=0.1)
    n_linear = sum(type(m) is nn.Linear for m in model.modules())
    q = quantize_linear_int8(model)
    assert linear_layer_counts(q) == {"float": 0, "int8": n_linear}
    assert linear_layer_counts(model) == {"float": n_linear, "int8": 0}  # the original is untouched
    with torch.no_grad():
        ref, out = model(x), q(x)
    assert out.shape == ref.shape and (out - ref).abs().max() < 0.1 * ref.abs().max()


def test_flops_match_the_budget_formula_and_mfu():
    from vitcourse.models.flops import vit_forward_flops

    model = ViT(image_size=32, patch_size=4, num_classes=10, dim=64, depth=3, heads=4, mlp_ratio=2.0)
    assert vit_flops(model) == vit_forward_flops(32, 4, 64, 3, 2.0, num_classes=10)
    assert model_flops(resnet18()) == pytest.approx(2 * 0.556e9)
    assert vit_flops(tiny_deit()) > vit_flops(tiny_vit())
    assert peak_flops("NVIDIA H100 80GB HBM3", "bf16") == pytest.approx(989.4e12)
    assert peak_flops("NVIDIA H100 PCIe", "bf16") == pytest.approx(756e12)
    assert peak_flops("AMD EPYC", "fp32") is None
    assert mfu(1000.0, 1e9, 1e13) == pytest.approx(0.3)
    assert mfu(1000.0, 1e9, None) is None


def test_speed_sweep_on_cpu_and_compression_arrays():
    config = dict(image_size=32, patch_size=8, num_classes=10, dim=32, depth=1, heads=2, mlp_ratio=2.0)
    rows = speed_sweep(config, "cpu", configs=[SpeedConfig("fused", "fp32", False, 8),
                                               SpeedConfig("explicit", "fp32", False, 8)], steps=1, warmup=1)
    assert [r["attention"] for r in rows] == ["fused", "explicit"]
    assert all(r["images_per_s"] > 0 and r["mfu"] is None and r["peak_memory_bytes"] is None for r in rows)
    arrays = record.compression_arrays(tiny_vit(), fake_dataset(), eval_images=40, importance_images=32,
                                       prune_steps=3, latency_repeats=2, speed=False)
    arrays.update(rows_to_arrays(rows))
    assert check_arrays(arrays, record.SCHEMA) == []
    assert arrays["pruned_heads"][0] == 0 and arrays["prune_params"][-1] < arrays["prune_params"][0]
    assert arrays["int8_linear_layers"] > 0 and arrays["quant_bytes"][2] < arrays["quant_bytes"][0]


# --- experiments: budget, tasks end to end, the table --------------------------------------------------

def test_chapters_6_and_7_fit_in_10_h100_minutes():
    from vitcourse.lab.catalog.part3_inspect import INSPECT_EXPERIMENTS
    from vitcourse.lab.catalog.part3_light import LIGHT_EXPERIMENTS, SPEED_SWEEP_MINUTES

    names = sorted(set(INSPECT_EXPERIMENTS) | set(LIGHT_EXPERIMENTS))
    total = sum(experiment_gpu_minutes(get_experiment(n), rates=ASSUMED) for n in names)   # planning rates
    # The budget formula counts the student only; the distillation runs also push every training
    # image through the teacher (one forward pass), and one run adds the speed sweep.
    teacher_minutes = 0.0
    for name in names:
        task = get_experiment(name).profile("full").get("task") or {}
        if "teacher" in task:
            full = get_experiment(name).profile("full")
            teacher = get_experiment(task["teacher"]).profile("full")
            images = images_per_epoch(full["data"]) * full["train"]["epochs"]
            teacher_minutes += forward_flops(teacher["model"], 32) * images / (ASSUMED_TFLOPS * 1e12) / 60
    assert teacher_minutes > 0
    assert total + teacher_minutes + SPEED_SWEEP_MINUTES <= 10.0, (total, teacher_minutes)


TEACHER = Experiment(
    name="_test_teacher", chapter="tests", description="micro ViT teacher",
    base=dict(model=MICRO_MODEL, data=MICRO_DATA, train=MICRO_TRAIN))
STUDENT = Experiment(
    name="_test_student", chapter="Part III: tests", description="micro DeiT student",
    base=dict(model=MICRO_MODEL, data=MICRO_DATA, train=MICRO_TRAIN,
              task=dict(name="deit_distill", teacher="_test_teacher", kind="soft", alpha=0.5, tau=2.0,
                        eval_images=100)))


@pytest.fixture
def sandbox(isolated_results, registered):
    registered(TEACHER, STUDENT)
    return isolated_results


def test_tasks_rebuild_structure_without_a_teacher(sandbox):
    from vitcourse.lab.tasks import get_task

    spec = STUDENT.profile("full")
    make, options = get_task(spec)
    setup = make(tiny_vit(), TaskRun(None, "full", 0, "cpu"), **options)
    assert isinstance(setup.model, DistilledViT) and setup.objective is None
    assert not (sandbox / "results" / "_test_teacher").exists()  # nothing was trained
    with pytest.raises(TypeError):
        make(tiny_vit(), TaskRun(None, "full", 0, "cpu"), **options, tua=3)


def test_distillation_run_trains_its_teacher_first_and_saves_arrays(sandbox):
    log = run_experiment("_test_student", "full", progress=False)
    assert log["status"] == "finished"
    assert (sandbox / "results/_test_teacher/full/seed0/run.json").is_file()  # trained on demand
    arrays = load_arrays(paths.run_dir("_test_student", "full", 0) / record.DISTILL_FILENAME, record.DISTILL_SCHEMA)
    assert arrays["head_names"].tolist() == ["class head", "distillation head", "average"]
    assert 0 <= arrays["agreement"] <= 1 and arrays["eval_images"] == 100
    assert isinstance(load_trained_model("_test_student", "full"), DistilledViT)

    # A fresh machine has the teacher's committed log but not its weights: they are rebuilt.
    shutil.rmtree(paths.checkpoint_dir("_test_teacher", "full", 0))
    from vitcourse.lab.runner import trained_model
    teacher = trained_model("_test_teacher", "full", 0, retrain_lost_weights=True)
    assert isinstance(teacher, ViT) and os.environ["VITCOURSE_RESULTS"] == str(sandbox / "results")

    # The Part III table shows measured rows from the logs, pending ones otherwise.
    problems = []
    rows = {r["experiment"]: r for r in part3_rows(cpu_latency=False, problems=problems)}
    assert rows["_test_student"]["accuracy"] == pytest.approx(log["epochs"][-1]["test_acc"])
    assert rows["_test_student"]["params"] == log["parameters"]
    assert rows["light_kd_soft"]["accuracy"] == "pending" and rows["light_kd_soft"]["gflops"] > 0
    assert "_test_teacher" not in rows
    assert not [p for p in problems if "_test_" in p or "light_" in p or "inspect_" in p], problems
    text = format_rows(list(rows.values()), latency=False)
    assert "pending" in text and "_test_student" in text
