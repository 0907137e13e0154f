"""The cpu profile: real results at laptop scale. Its specs validate, keep what each experiment
compares, fit the CPU budget, and its runs are logged where the book reads them."""

import pytest
from helpers import TINY

from vitcourse.lab import EXPERIMENTS, get_experiment, run_experiment
from vitcourse.lab.budget import estimate_cpu_minutes, experiment_cpu_minutes
from vitcourse.lab.catalog.cpu_scale import CPU_BUDGET_MINUTES, CPU_PROFILES, RESNET_WIDTH, VIT
from vitcourse.lab.chapter_results import ChapterResults
from vitcourse.lab.experiment import spec_differences
from vitcourse.lab.paths import results_root
from vitcourse.lab.suite import depends_on, split_for_workers
from vitcourse.models.flops import forward_flops
from vitcourse.train import TrainConfig

CPU = [name for name, exp in EXPERIMENTS.items() if exp.has_profile("cpu")]


def test_every_cpu_profile_resolves_to_a_valid_training_config():
    assert set(CPU) == set(CPU_PROFILES)
    for name in CPU:
        spec = get_experiment(name).profile("cpu")
        TrainConfig(**spec["train"])   # raises on a bad value
        assert spec["train"]["amp"] == "none"
        assert spec["data"].get("test_fraction", 1.0) == 1.0, f"{name}: cpu results use the whole test set"


def test_the_whole_cpu_profile_fits_its_budget_and_first_run_fits_twenty_minutes():
    total = sum(experiment_cpu_minutes(EXPERIMENTS[name]) for name in CPU)
    assert total <= CPU_BUDGET_MINUTES, f"cpu profile estimated at {total:.1f} minutes"
    first = get_experiment("first_run").profile("cpu")
    assert first["data"]["fraction"] == 1.0 and estimate_cpu_minutes(first) <= 20


def test_experiments_without_a_cpu_profile_say_so():
    exp = get_experiment("recipe_7_long")
    assert not exp.has_profile("cpu") and exp.seeds_for("cpu") == ()
    with pytest.raises(ValueError, match="no 'cpu' profile"):
        exp.profile("cpu")


def test_every_experiment_chapter_measures_its_claim_at_cpu_scale():
    chapters = {get_experiment(name).chapter for name in CPU}
    for chapter in ("Part II: Your first training run", "Part III: A recipe that makes ViT work from scratch",
                    "Part III: How much data does ViT need? and ablations", "Part III: Pre-training and transfer",
                    "Part III: When classes are imbalanced", "Part III: Making ViT lighter and faster"):
        assert chapter in chapters
    # ViT vs ResNet at four training-set sizes each, same images seen at every size
    sizes = {}
    for arch in ("vit", "resnet18"):
        points = [get_experiment(n).profile("cpu") for n in CPU if n.startswith(f"data_{arch}_")]
        sizes[arch] = sorted(p["data"]["fraction"] for p in points)
        seen = {round(50_000 * p["data"]["fraction"] * p["train"]["epochs"], -3) for p in points}
        assert len(points) >= 4 and len(seen) == 1
    assert sizes["vit"] == sizes["resnet18"]


def test_cpu_ablations_change_only_their_knob():
    base = get_experiment("abl_base").profile("cpu")
    expected = {"abl_patch2": {"model.patch_size"}, "abl_patch8": {"model.patch_size"},
                "abl_pos_none": {"model.pos_embed"}, "abl_pos_2d": {"model.pos_embed"},
                "abl_gap": {"model.pool"}, "abl_gap_lr_low": {"model.pool", "train.lr"},
                "abl_cls_lr_low": {"train.lr"}}
    for name, keys in expected.items():
        assert set(spec_differences(base, get_experiment(name).profile("cpu"))) == keys, name


def test_the_cpu_resnet_costs_what_the_cpu_vit_costs():
    vit = forward_flops(dict(arch="vit", patch_size=4, mlp_ratio=2.0, **VIT), 32)
    resnet = forward_flops(dict(arch="resnet18", stem="cifar", width=RESNET_WIDTH), 32)
    assert abs(resnet / vit - 1) < 0.05


def test_workers_share_the_pending_runs_and_keep_sources_with_their_users(isolated_results):
    shares = split_for_workers("cpu", 2)   # an empty results folder: every cpu run is pending
    flat = [name for share in shares for name in share]
    assert len(shares) == 2 and sorted(flat) == sorted(CPU)
    loads = [sum(experiment_cpu_minutes(EXPERIMENTS[n]) for n in share) for share in shares]
    assert max(loads) < 1.5 * min(loads)
    for share in shares:
        for name in share:
            source = depends_on(name, "cpu")
            if source in flat:
                assert source in share and share.index(source) < share.index(name)


def test_cpu_runs_are_logged_beside_full_runs_and_plotted_before_smoke(tiny_cpu):
    assert results_root("cpu") == results_root("full")
    log = run_experiment(tiny_cpu, "cpu", progress=False)
    assert log["status"] == "finished" and log["profile"] == "cpu"
    assert (results_root("cpu") / tiny_cpu / "cpu" / "seed0" / "run.json").is_file()
    # two epochs with a test pass every second one: only the last is tested
    assert [e["test_samples"] > 0 for e in log["epochs"]] == [False, True]
    results = ChapterResults(smoke={"x": ["smoke run"]}, cpu={"x": ["cpu run"]})
    assert results.scale("x") == "cpu" and results.for_plot("x") == (["cpu run"], False)
    assert results.pending_full() == ["x"]


@pytest.fixture
def tiny_cpu(isolated_results, registered):
    """The micro experiment with a cpu profile: two epochs, a test pass every second one."""
    import dataclasses

    exp = dataclasses.replace(TINY, name="_test_tiny_cpu", cpu=dict(train=dict(epochs=2, eval_every=2)))
    registered(exp)
    return exp.name


def test_the_whole_cpu_profile_was_timed_within_its_budget():
    """The committed record of one timed run of the whole profile (reproducing page) covers every
    cpu experiment and stayed within the budget the profile is sized for."""
    import json

    from vitcourse import REPO_ROOT
    from vitcourse.lab import EXPERIMENTS

    timing = json.loads((REPO_ROOT / "data/results/timings/cpu-profile.json").read_text())
    assert set(timing["runs"]) == {n for n, e in EXPERIMENTS.items() if e.has_profile("cpu")}
    assert 0 < timing["elapsed_minutes"] <= CPU_BUDGET_MINUTES
    assert timing["sum_of_run_minutes"] >= timing["elapsed_minutes"]   # two workers overlap
    assert "--profile cpu" in timing["command"] and len(timing["commit"]) == 40
