"""Atomic file writes: write a temp file in the target's folder, flush it, then ``os.replace`` it onto the
target. A reader, or a run interrupted half-way, sees the old file or the new one, never a torn mix; the temp
file is removed when writing fails (a killed process leaves it: :func:`remove_stale_temps` sweeps it)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

#: Temp files are ``.<target name>.<8 random characters>.tmp`` next to the target (``tempfile.mkstemp``).
TEMP_SUFFIX = ".tmp"
TEMP_PATTERN = ".*.????????" + TEMP_SUFFIX


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(f)`` on a binary temp file next to ``path``, then move it onto ``path`` in one step.

    An ``OSError`` from the file system (a full disk, a read-only folder) is raised again with ``path`` as
    its file name, so the message names the file that could not be written rather than the temp file.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the result is an ordinary output file
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno is not None:
            raise OSError(error.errno, error.strerror or str(error), os.fspath(path)) from error
        raise
    return path


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode()))


def remove_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Delete the temp files that writes killed half-way (SIGKILL, power loss) left in ``folder``; returns them.

    Only call this when no write into ``folder`` is running (e.g. before resuming a run).
    """
    stale = [p for p in Path(folder).glob(TEMP_PATTERN) if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def check_writable(folder: str | os.PathLike) -> None:
    """Raise ``OSError`` (naming ``folder``) if no file can be created in it: a read-only file system,
    missing permissions, no free inodes."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".hqnn-write-check.", suffix=TEMP_SUFFIX)
    except OSError as error:
        raise OSError(error.errno, error.strerror or str(error), os.fspath(folder)) from error
    os.close(fd)
    os.unlink(probe)
