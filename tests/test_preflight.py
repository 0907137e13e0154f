"""The GPU preflight runs its checks on whatever device it is given and reports failures by name."""

from vitcourse.lab import preflight
from vitcourse.__main__ import main


def test_preflight_passes_on_this_machine(capsys):
    results = preflight.run_preflight("cpu", compile=False)
    assert [c.name for c in results][0] == "versions" and all(c.ok for c in results), \
        preflight.format_checks(results)
    assert "resnet18" in results[-1].detail and "vit" in results[-1].detail


def test_a_broken_check_fails_the_command_and_names_itself(monkeypatch, capsys):
    def broken(device):
        raise AssertionError("fused and explicit attention differ by 1.0e+00 on cpu")
    monkeypatch.setattr(preflight, "_attention", broken)
    monkeypatch.setattr(preflight, "_training", lambda device, compile: "skipped in this test")
    assert main(["preflight", "--device", "cpu", "--no-compile"]) == 1
    out = capsys.readouterr().out
    assert "[FAILED] attention kernels" in out and "differ by" in out
    assert "preflight FAILED: attention kernels" in out
