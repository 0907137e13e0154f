"""Provenance for the run log: the command, library versions, device name and git commit."""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

from vitcourse import REPO_ROOT
from typing import Any

import torch

# The repository root, when the package is used from a checkout (the editable install).


def current_command() -> str:
    """The command line that started this process, written so that it can be pasted back.

    ``python -m pkg`` shows up in ``sys.argv`` as the path of ``pkg/__main__.py``; the module
    name is recovered from ``__main__.__spec__``. Under torchrun the launcher's own flags are not
    visible to the workers, so the common single-node form is rebuilt from its environment.
    """
    argv = list(sys.argv)
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if main_spec is not None and main_spec.name.startswith("ipykernel"):
        return "(a Jupyter kernel: no command line; pass command= to fit)"
    if main_spec is not None and main_spec.name:
        module = main_spec.name.removesuffix(".__main__")
        prefix = ["python", "-m", module]
    else:
        prefix = ["python", argv[0]] if argv and argv[0] else ["python"]
    if "LOCAL_WORLD_SIZE" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        prefix = ["torchrun", f"--nproc_per_node={os.environ['LOCAL_WORLD_SIZE']}"]
        if os.environ.get("GROUP_WORLD_SIZE", "1") != "1":
            prefix.append(f"--nnodes={os.environ['GROUP_WORLD_SIZE']}")
        prefix += ["-m", main_spec.name.removesuffix(".__main__")] if main_spec else [argv[0]]
    return shlex.join(prefix + argv[1:])


def _version(module_name: str) -> str | None:
    try:
        module = __import__(module_name)
    except ImportError:
        return None
    return getattr(module, "__version__", None)


def versions() -> dict[str, str | None]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "timm": _version("timm"),
        "torchvision": _version("torchvision"),
        "numpy": _version("numpy"),
    }


def cpu_name() -> str:
    """The CPU model string (``platform.processor()`` is often just 'x86_64' on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_name()


def git_info(repo: Path = REPO_ROOT) -> dict[str, Any]:
    """Commit hash and whether tracked files differ from it. Outside a checkout, the commit named
    by VITCOURSE_COMMIT (set by tools/gpu_window.sh from the launching checkout), else None."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                                  timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:   # a copy without .git (a GPU machine): the launcher passes the commit in
        passed = os.environ.get("VITCOURSE_COMMIT") or None
        return {"commit": passed, "dirty": None, "source": "VITCOURSE_COMMIT" if passed else None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}
