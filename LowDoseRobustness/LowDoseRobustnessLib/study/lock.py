"""One study at a time per folder: ``study.lock`` names the process that runs there.

The lock file is created exclusively (``O_CREAT | O_EXCL``) and holds the owner's host,
process id and start time. A lock whose process is gone (same host, no such process, or
a process started later: the id was reused) is stale and taken over; a live one stops
the second study with a message naming it. Standard library only.
"""
from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

from LowDoseRobustnessLib.errors import InputError


def _process_start(pid: int) -> Optional[float]:
    """Start time (seconds since the epoch) of process ``pid``; None when there is no such process."""
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except ImportError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return 0.0
    except Exception:  # psutil.NoSuchProcess, AccessDenied, ZombieProcess
        return None


def process_alive(pid: int) -> bool:
    """True when a process ``pid`` runs on this host."""
    return _process_start(pid) is not None


def lock_owner(path: Path) -> Optional[dict]:
    """The owner recorded in a lock file, or None when there is none (or it cannot be read)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_stale(owner: dict) -> bool:
    """True when the lock's process is certainly gone (checked only on the host that wrote it)."""
    if owner.get("host") != socket.gethostname():
        return False
    started = _process_start(int(owner.get("pid", -1)))
    return started is None or started > float(owner.get("process_started", 0.0)) + 1.0


@contextmanager
def study_lock(path: Path, log: Callable[[str], None] = lambda message: None) -> Iterator[Path]:
    """Hold the lock file ``path`` while the block runs; refuse when another live study holds it."""
    me = {"host": socket.gethostname(), "pid": os.getpid(), "process_started": _process_start(os.getpid()) or 0.0,
          "locked": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(2):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            owner = lock_owner(path)
            if owner is not None and not is_stale(owner):
                raise InputError(f"another study is running in {path.parent} (process {owner.get('pid')} on "
                                 f"{owner.get('host')}, since {owner.get('locked')}); wait for it to finish or stop "
                                 f"it. If no study runs there any more, delete {path}") from None
            if owner is None and time.time() - _mtime(path) < 5.0:
                raise InputError(f"another study is starting in {path.parent}; try again in a moment") from None
            log(f"removed the stale lock of process {owner.get('pid') if owner else '?'}, which no longer runs")
            path.unlink(missing_ok=True)
    else:
        raise InputError(f"cannot take the lock {path}; another study may be starting there")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            json.dump(me, stream)
        yield path
    finally:
        if (lock_owner(path) or {}).get("pid") == me["pid"]:
            path.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
