"""How a result file unfit to plot is reported: one warning naming it and why, and an entry in
the caller's problem list. Shared by run logs and saved arrays; imports nothing of the package."""

import warnings


def report_skipped(path, issues: list[str], problems: list[str] | None = None) -> None:
    message = f"skipping {path}: " + "; ".join(issues)
    warnings.warn(message, stacklevel=3)
    if problems is not None:
        problems.append(message)
