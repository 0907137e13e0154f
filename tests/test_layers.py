"""The package's shape (issue #13): the course apart from the lab, no import cycles, few lazy imports.

Read statically from the source (no module is imported): every `import` of a vitcourse module,
at module level or inside a function, is an edge of the import graph.
- The lab rule: nothing outside `vitcourse.lab` imports it, except the `python -m vitcourse`
  entry point (`vitcourse/__main__.py`).
- No cycle between modules, nor between the top-level sub-packages (`vitcourse.plots`,
  `vitcourse.interpret`, ...; a module directly under `vitcourse/` counts as its own).
- At most MAX_LAZY imports of the package's own modules inside functions, each with a comment
  on its line or the line above that says why.
"""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO

PACKAGE = REPO / "vitcourse"
MAX_LAZY = 10
ENTRY_POINT = "vitcourse.__main__"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported(module: str, node: ast.Import | ast.ImportFrom, is_package: bool) -> list[str]:
    """The vitcourse modules an import statement names (`from pkg import sub` names `pkg.sub`)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in MODULES]
    if node.level:
        base = module if is_package else module.rsplit(".", 1)[0]
        for _ in range(node.level - 1):
            base = base.rsplit(".", 1)[0]
        target = base + ("." + node.module if node.module else "")
    else:
        target = node.module or ""
    out = []
    for alias in node.names:
        if f"{target}.{alias.name}" in MODULES:
            out.append(f"{target}.{alias.name}")
        elif target in MODULES:
            out.append(target)
    return out


def import_graph():
    """{module: set of imported modules} and the lazy imports [(module, line, targets, source line)]."""
    graph, lazy = {}, []
    for name, path in MODULES.items():
        source = path.read_text()
        tree = ast.parse(source)
        lines = source.splitlines()
        is_package = path.name == "__init__.py"
        graph[name] = set()
        inside = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for n in ast.walk(f)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets = imported(name, node, is_package)
                graph[name].update(targets)
                if targets and id(node) in inside:
                    why = lines[node.lineno - 1] + "\n" + lines[node.lineno - 2]
                    lazy.append((name, node.lineno, targets, why))
    return graph, lazy


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w == v:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def subpackage(module: str) -> str:
    return ".".join(module.split(".")[:2])


GRAPH, LAZY = import_graph()


def test_nothing_outside_the_lab_imports_the_lab():
    def in_lab(m):
        return m == "vitcourse.lab" or m.startswith("vitcourse.lab.")
    violations = [(m, t) for m, targets in GRAPH.items() for t in targets
                  if in_lab(t) and not in_lab(m) and m != ENTRY_POINT]
    assert not violations, f"course modules importing the lab: {violations}"


def test_no_import_cycle_between_modules():
    assert not cycles(GRAPH)


def test_no_import_cycle_between_subpackages():
    packages: dict[str, set[str]] = {}
    for m, targets in GRAPH.items():
        packages.setdefault(subpackage(m), set()).update(subpackage(t) for t in targets)
    assert not cycles(packages)


def test_few_lazy_imports_each_with_a_reason():
    assert len(LAZY) <= MAX_LAZY, [(m, line) for m, line, _, _ in LAZY]
    unexplained = [(m, line) for m, line, _, why in LAZY if "# why" not in why]
    assert not unexplained, "a lazy import needs a `# why: ...` comment on its line or the line above"


def test_the_checker_sees_what_it_must():
    """The checker itself: on a made-up graph it finds the cycle; on the package it reads every module."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert {"vitcourse.lab.runner", "vitcourse.train.fit", "vitcourse.models.vit"} <= set(GRAPH)
    assert "vitcourse.lab.tasks" in GRAPH["vitcourse.lab.runner"]
    assert any(t.startswith("vitcourse.lab") for t in GRAPH[ENTRY_POINT])
