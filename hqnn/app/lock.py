"""The run lock: while a run writes its folder, the folder holds ``.hqnn.lock`` with the writer's pid and host,
created with ``O_CREAT | O_EXCL`` (atomic: of two runs, one gets it). A second ``train``, ``--resume`` or
``--force`` on that folder is refused naming the holder. A lock whose pid is dead on this host (a SIGKILLed
run) is stale: it is taken over with a message. Data-parallel workers never take it: their launcher holds it."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".hqnn.lock"


class RunLocked(ValueError):
    """Another live run holds the folder's lock; the message names its pid and host."""


def holder(folder: str | os.PathLike) -> dict | None:
    """The lock's holder ``{"pid", "host", "since"}`` if the folder is locked, else ``None`` (an unreadable lock
    counts as held by an unknown process)."""
    path = Path(folder) / LOCK_NAME
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return {"pid": None, "host": None, "since": None}
    try:
        data = json.loads(text)
        return {"pid": int(data["pid"]), "host": str(data["host"]), "since": data.get("since")}
    except (ValueError, KeyError, TypeError):
        return {"pid": None, "host": None, "since": None}


def check_unlocked(folder: str | os.PathLike, flag: str) -> None:
    """Raise :class:`RunLocked` if a live run holds ``folder`` (a stale lock passes: :func:`run_lock` takes it)."""
    found = holder(folder)
    if found is not None and not _stale(found):
        raise RunLocked(_held_message(folder, flag, found))


@contextmanager
def run_lock(folder: str | os.PathLike, flag: str = "--out") -> Iterator[Path]:
    """Hold ``folder``'s lock inside the block (released on return, error or KeyboardInterrupt)."""
    path = acquire(folder, flag)
    try:
        yield path
    finally:
        release(path)


def acquire(folder: str | os.PathLike, flag: str = "--out") -> Path:
    """Create ``folder``'s lock for this process; take over a stale one; raise :class:`RunLocked` if held."""
    path = Path(folder) / LOCK_NAME
    record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")})
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            found = holder(folder)
            if found is None:
                continue  # released meanwhile: try again
            if not _stale(found):
                raise RunLocked(_held_message(folder, flag, found)) from None
            # Move the stale lock aside under a unique name: of two runs taking it over, one moves it.
            aside = path.with_name(f"{LOCK_NAME}.stale.{os.getpid()}")
            try:
                os.replace(path, aside)
            except FileNotFoundError:
                continue
            aside.unlink(missing_ok=True)
            print(
                f"hqnn: {folder}: taking over the lock of hqnn pid {found['pid']} on {found['host']}, "
                "which is no longer running",
                file=sys.stderr,
            )
            continue
        with os.fdopen(fd, "w") as f:
            f.write(record)
        return path
    raise RunLocked(f"{flag} {folder}: its lock changes hands too fast: another hqnn is starting there")


def release(path: Path) -> None:
    """Remove the lock at ``path`` if this process holds it."""
    found = holder(path.parent)
    if found is not None and found["pid"] == os.getpid() and found["host"] == socket.gethostname():
        path.unlink(missing_ok=True)


def _stale(found: dict) -> bool:
    """A lock of a pid that is dead on this host (an unreadable lock, or another host's, is never stale)."""
    if found["pid"] is None or found["host"] != socket.gethostname():
        return False
    if found["pid"] == os.getpid():
        return False
    try:
        os.kill(found["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _held_message(folder, flag: str, found: dict) -> str:
    if found["pid"] is None:
        return (
            f"{flag} {folder} is locked by a run whose lock file {LOCK_NAME} cannot be read: if no hqnn runs there, "
            f"delete {Path(folder) / LOCK_NAME}"
        )
    since = f" since {found['since']}" if found.get("since") else ""
    return (
        f"{flag} {folder} is in use by another hqnn run (pid {found['pid']} on {found['host']}{since}): wait for it "
        "to finish or stop it, or pick another folder"
    )
