"""A plain-text tqdm progress bar: readable in terminals, notebook outputs and log files alike.

Plain ``tqdm`` with ``ascii=True`` (not ``tqdm.auto``, whose widgets do not survive in a built
book or a log file), redrawn rarely, and not at all for epochs under 5 s, so it costs nothing and
does not flood captured output; a one-line summary follows each epoch. Silent when the
environment variable CI is set, when asked, and on every rank but 0. With VITCOURSE_EPOCH_LINES=1
(the GPU chunk script) there is no bar but every summary line is printed, even under CI: a job's
captured log then shows each epoch as it finished.
"""

from __future__ import annotations

import os
import sys

from tqdm import tqdm


EPOCH_LINES_ENV = "VITCOURSE_EPOCH_LINES"


def quiet_environment() -> bool:
    return bool(os.environ.get("CI"))


def epoch_lines_only() -> bool:
    return os.environ.get(EPOCH_LINES_ENV) == "1"


class Progress:
    """One bar per epoch; ``update`` shows loss, accuracy and images/s; ``note`` prints a line."""

    def __init__(self, enabled: bool):
        self.lines_only = enabled and epoch_lines_only()
        self.enabled = enabled and not quiet_environment() and not self.lines_only
        self.bar: tqdm | None = None

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        if self.enabled:
            self.bar = tqdm(total=steps, desc=f"epoch {epoch}/{epochs}", ascii=True,
                            mininterval=5.0, delay=5.0, ncols=100, file=sys.stdout,
                            leave=False)

    def update(self, steps: int, loss: float, acc: float, images_per_s: float) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"loss {loss:.4f} acc {acc:.3f} {images_per_s:,.0f} img/s",
                                     refresh=False)
            self.bar.update(steps)

    def end_epoch(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def note(self, line: str) -> None:
        if self.enabled:
            tqdm.write(line, file=sys.stdout)
        elif self.lines_only:
            print(line, flush=True)
