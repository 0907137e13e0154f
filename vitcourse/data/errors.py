"""The one exception a dataset loader raises when it cannot give you the data you asked for.

Missing, partial and corrupt copies all end up here, so a notebook or a run needs to catch a
single type, and every message has the same three parts: what was looked for, where, and the
two ways to fix it (go online, or point at a local copy).
"""

from __future__ import annotations

from pathlib import Path


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is missing, incomplete or unreadable where the loader looked for it.

    Subclasses ``FileNotFoundError`` so code that already handles missing files keeps working;
    ``problem``, ``looked_for`` and ``where`` are kept as attributes for tests and tools.
    """

    def __init__(self, dataset: str, problem: str, looked_for: str, where: str | Path,
                 fixes: list[str], hints: list[str] | None = None):
        self.dataset, self.problem, self.looked_for, self.where = dataset, problem, looked_for, str(where)
        self._init_args = (dataset, problem, looked_for, str(where), list(fixes), list(hints or []))
        lines = [
            f"{dataset} is not usable: {problem}",
            f"  looked for: {looked_for}",
            f"  where:      {where}",
            "  fix it one of two ways:",
            *(f"    {i}. {fix}" for i, fix in enumerate(fixes, 1)),
            *(f"  note: {hint}" for hint in hints or []),
        ]
        super().__init__("\n".join(lines))

    def __str__(self) -> str:  # FileNotFoundError would otherwise print "[Errno None] ..."
        return self.args[0]

    def __reduce__(self):  # so the error survives being sent between processes (DDP, pools)
        return type(self), self._init_args


class UnknownDatasetError(ValueError):
    """``load_dataset`` was given a name it does not know."""

    def __init__(self, name: str, known: list[str]):
        self.name, self.known = name, known
        super().__init__(f"unknown dataset {name!r}; known datasets: {', '.join(known)} "
                         f"(e.g. load_dataset({known[0]!r}))")
