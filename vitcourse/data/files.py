"""Read the files of a dataset copy, whether it is a folder or a tar archive, into memory.

Archives are streamed member by member and never extracted to disk: the decoded tensor cache is
what later runs reuse, so an unpacked tree would only cost disk space and time (and extracting
untrusted archives invites path tricks). Any read failure becomes ``CopyUnreadable`` with the
reason, which the loader turns into its one clear error.
"""

from __future__ import annotations

import os
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")


class CopyUnreadable(Exception):
    """A folder or archive could not be read; the message says why."""


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def read_archive(path: Path, keep: Callable[[str], bool]) -> dict[str, bytes]:
    """``{member path: bytes}`` for the regular files of a tar archive that ``keep`` accepts."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if member.isfile() and keep(name):
                    files[name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise CopyUnreadable(f"the archive is corrupt or truncated ({type(err).__name__}: {err})") from err
    return files


def list_tree(folder: Path, keep: Callable[[str], bool]) -> list[str]:
    """Relative POSIX paths of the files under ``folder`` that ``keep`` accepts, sorted."""
    names = []
    for dirpath, _dirs, filenames in os.walk(folder):
        rel_dir = Path(dirpath).relative_to(folder).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        names.extend(prefix + f for f in filenames if keep(prefix + f))
    return sorted(names)


def read_tree(folder: Path, names: list[str]) -> dict[str, bytes]:
    try:
        return {name: (folder / name).read_bytes() for name in names}
    except OSError as err:
        raise CopyUnreadable(f"cannot read {err.filename} ({err.strerror})") from err


def stat_fingerprint_parts(folder: Path, names: list[str]) -> list[str]:
    """Name, size and modification time per file: cheap to compute, changes when a file does."""
    parts = []
    for name in names:
        st = (folder / name).stat()
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return parts
