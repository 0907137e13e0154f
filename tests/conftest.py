"""Fixtures shared by the test files."""

import pytest


@pytest.fixture
def isolated_results(tmp_path, monkeypatch):
    """Results and checkpoints in a temporary folder, quiet progress bars; CIFAR-10 comes from the
    offline copy that the top-level conftest.py points VITCOURSE_CIFAR10 at."""
    monkeypatch.setenv("VITCOURSE_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("VITCOURSE_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("CI", "1")
    return tmp_path


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tests with one torch thread (small ops are slower with two on 2-core CI)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def registered():
    """registered(exp, ...) registers experiments for one test; they are removed afterwards."""
    from vitcourse.lab import EXPERIMENTS, register

    names = []

    def add(*experiments):
        for exp in experiments:
            if exp.name not in EXPERIMENTS:
                register(exp)
            names.append(exp.name)
    yield add
    for name in names:
        EXPERIMENTS.pop(name, None)
