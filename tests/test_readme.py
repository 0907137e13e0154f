"""The README's two set-up commands and .ci/run stay in step (cheap text checks, no installs)."""

import os
import re

from helpers import REPO


def _readme_commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash\n(.*?)^```", readme, flags=re.MULTILINE | re.DOTALL)
    return [line for block in blocks for line in block.splitlines()
            if line.startswith("pip install -r requirements.txt")]


def test_readme_has_exactly_the_two_setup_commands():
    commands = _readme_commands()
    assert len(commands) == 2, commands
    build, test = commands
    assert build == "pip install -r requirements.txt && jupyter-book build book/"
    assert test.endswith("&& pytest") and "apt-get install -y chromium chromium-driver" in test


def test_ci_runs_the_readme_test_command_verbatim():
    ci = REPO / ".ci" / "run"
    assert os.access(ci, os.X_OK), ".ci/run must be executable"
    text = ci.read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
    test_command = _readme_commands()[1]
    assert any(line.startswith(test_command) for line in text.splitlines()), (
        "the README's test command and .ci/run have drifted apart")
