"""What every notebook chapter shares, checked on the files (the rendered page: test_site.py).

- Each notebook starts with the same Colab set-up cell (tools/notebook_setup_cell.py), hidden from
  the page; it does nothing and prints nothing where vitcourse is importable, and where it is not
  it clones the repository named in _config.yml and installs it.
- Visible code carries no nbval marker comments (nbval's cell tags say it instead) and no
  ``%config`` (set-up lives in cells the page removes).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import REPO

sys.path.insert(0, str(REPO / "tools"))
import notebook_setup_cell as setup  # noqa: E402

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
HIDDEN = {"remove-cell", "remove-input"}
NBVAL_TAGS = {"nbval-ignore-output", "nbval-check-output", "nbval-raises-exception", "nbval-skip",
              "raises-exception"}


def _code_cells(path: Path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_notebooks_found():
    assert len(NOTEBOOKS) >= 20, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_starts_with_the_colab_setup_cell(path):
    first = _code_cells(path)[0]
    assert first.get("id") == setup.CELL_ID, f"{path.name}: first code cell is {first.get('id')!r}"
    assert first.source == setup.SOURCE, (
        f"{path.name}: the set-up cell differs from tools/notebook_setup_cell.py "
        "(run python tools/notebook_setup_cell.py)")
    assert first.metadata.get("tags") == ["remove-cell"], f"{path.name}: tags {first.metadata.get('tags')}"
    assert first.outputs == [], f"{path.name}: the set-up cell has stored output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_visible_code_has_no_markers_or_config(path):
    problems = []
    for i, cell in enumerate(_code_cells(path)):
        tags = set(cell.metadata.get("tags", []))
        for line in cell.source.splitlines():
            if re.match(r"\s*#\s*(NBVAL|PYTEST_VALIDATE)_", line):
                problems.append(f"code cell {i}: marker comment {line.strip()!r} (use an nbval tag)")
            if line.lstrip().startswith("%config") and not tags & HIDDEN:
                problems.append(f"code cell {i}: {line.strip()!r} in a cell the page shows")
        unknown = {t for t in tags if t.startswith("nbval")} - NBVAL_TAGS
        if unknown:
            problems.append(f"code cell {i}: unknown nbval tag(s) {sorted(unknown)}")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def _run_setup(importable: bool):
    """Execute the set-up cell's source with subprocess.run recorded instead of run."""
    calls = []
    real_find_spec = importlib.util.find_spec

    def fake_find_spec(name, *args, **kwargs):
        return None if (name == "vitcourse" and not importable) else real_find_spec(name, *args, **kwargs)

    stdout = io.StringIO()
    saved_path = list(sys.path)
    with (pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(stdout),
          contextlib.redirect_stderr(stdout)):
        mp.setattr(importlib.util, "find_spec", fake_find_spec)
        mp.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
        exec(compile(setup.SOURCE, "colab-setup", "exec"), {})
    sys.path[:] = saved_path
    return calls, stdout.getvalue()


def test_setup_cell_does_nothing_where_vitcourse_is_installed():
    calls, printed = _run_setup(importable=True)
    assert calls == [] and printed == ""


def test_setup_cell_installs_the_repository_where_vitcourse_is_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # like Colab's /content: no checkout around
    calls, _ = _run_setup(importable=False)
    url = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", (REPO / "_config.yml").read_text(), re.M).group(1)
    checkout = str(tmp_path / "vitcourse")
    assert calls[0] == ["git", "clone", "--depth", "1", url, checkout]
    assert calls[1][1:4] == ["-m", "pip", "install"] and calls[1][calls[1].index("-e") + 1] == checkout


def test_recipe_quotes_the_source_numbers_it_keeps():
    """The recipe chapter's table of the source write-up's numbers (markdown: the reader cannot look
    them up elsewhere) matches vitcourse.lab.published.SOURCE_3A_SMALL, and cites no document the
    reader does not have."""
    from vitcourse.lab.published import SOURCE_3A_SMALL

    text = "\n".join(c.source for c in nbformat.read(REPO / "notebooks/recipe.ipynb", as_version=4).cells
                     if c.cell_type == "markdown")
    assert "course brief" not in text.lower()
    for (model, lr), accs in SOURCE_3A_SMALL.items():
        exponent = {1e-4: r"\$10\^\{-4\}\$", 5e-4: r"\$5 \\cdot 10\^\{-4\}\$"}[lr]
        row = re.search(rf"^\| {model} \(patch {model[-1]}\) \| {exponent} \|(.*)\|$", text, re.M)
        assert row, f"no table row for {model} at lr {lr:g}"
        cells = [c.strip() for c in row.group(1).split("|")]
        expected = [f"{accs[e]:.2f}%" if e in accs else "not reported" for e in (5, 10)]
        assert cells == expected, (model, lr, cells, expected)
