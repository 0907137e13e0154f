"""One process at a time per run: `run.lock` in the run's folder while it trains.

The lock file holds who took it (pid, host, start time, command). A second `run` or suite of the
same experiment, profile and seed refuses with RunLocked, naming the holder and how to clear a
stale lock. A lock left by a process that no longer exists on this host (killed with -9, a
crashed machine's leftover is another host's and stays) is recognised as stale and taken over,
with a notice. The lock is released when the `with` block ends, by an exception or Ctrl-C too.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
from collections.abc import Iterator
from pathlib import Path

from vitcourse.atomic import process_running

LOCK = "run.lock"


class RunLocked(RuntimeError):
    """Another process holds this run's lock."""


def _holder(path: Path) -> dict | None:
    """The lock's record; {} when it exists but cannot be read; None when there is none."""
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _stale(record: dict) -> bool:
    pid = record.get("pid")
    return (record.get("host") == platform.node() and isinstance(pid, int) and pid != os.getpid()
            and not process_running(pid))


def _describe(record: dict) -> str:
    return (f"pid {record.get('pid', '?')} on {record.get('host', '?')} since {record.get('started', '?')} "
            f"(`{record.get('command', '?')}`)")


def _try_create(path: Path, record: dict) -> bool:
    """Create the lock with its whole record at once (link of a complete temporary file)."""
    tmp = path.with_name(f".{LOCK}.{os.getpid()}")
    tmp.write_text(json.dumps(record) + "\n")
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike, command: str) -> Iterator[Path]:
    """Hold `run_dir/run.lock` for the duration of the block (see the module docstring)."""
    path = Path(run_dir) / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"pid": os.getpid(), "host": platform.node(),
              "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "command": command}
    while not _try_create(path, record):
        holder = _holder(path)
        if holder is None:          # released meanwhile: try again
            continue
        if not _stale(holder):
            raise RunLocked(
                f"{path.parent} is in use by {_describe(holder)}: wait for it to end. If that process "
                f"is gone (another machine, a reboot), delete {path} and run again.")
        aside = path.with_name(f".{LOCK}.stale{os.getpid()}")
        try:
            os.replace(path, aside)
        except FileNotFoundError:   # another process took it over first
            continue
        if _holder(aside) != holder:   # moved a live lock taken meanwhile: put it back, look again
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
            aside.unlink(missing_ok=True)
            continue
        print(f"notice: taking over the stale lock {path} of {_describe(holder)}, which is no longer running")
        aside.unlink(missing_ok=True)
    try:
        yield path
    finally:
        if (_holder(path) or {}).get("pid") == os.getpid():
            path.unlink(missing_ok=True)
