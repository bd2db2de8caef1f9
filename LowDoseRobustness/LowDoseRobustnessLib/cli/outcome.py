"""How a ``lowdose`` command ends: one line for every error a user can cause, a traceback only for bugs.

* user errors (:data:`.errors.USER_ERRORS`), a full disk, a folder without write permission
  and running out of memory: ``lowdose CMD: error: ...``, exit code 2;
* SIGINT (Ctrl+C) and SIGTERM: every temporary file is removed, the command's outputs are
  not written, ``lowdose CMD: interrupted by SIGINT ...``, exit code 128 + signal number;
* anything else is a bug: its traceback, then a line saying so, exit code 1;
* warnings (implausible but legal requests): ``lowdose CMD: warning: ...``, one line each.

Standard library only (``lowdose --help`` stays fast).
"""
from __future__ import annotations

import errno
import signal
import sys
import threading
import traceback
import warnings
from contextlib import contextmanager
from typing import Callable, Iterator

from LowDoseRobustnessLib.errors import USER_ERRORS, Interrupted
from LowDoseRobustnessLib.io.atomic import atomic_group, finished_count, remove_temporaries

USER_ERROR_EXIT, BUG_EXIT = 2, 1
ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR,
                      errno.EISDIR, errno.ENAMETOOLONG}
"""File-system errors that are the situation's, not the program's: no space, no permission, read-only, bad path."""
OUT_OF_MEMORY_TEXT = ("DefaultCPUAllocator", "not enough memory", "can't allocate memory")
"""How torch words a failed CPU allocation (a RuntimeError, not a MemoryError)."""


def run_command(command: str, func: Callable[[], int]) -> int:
    """Run ``func`` (a sub-command) with its outputs held in one :func:`.atomic_group`; returns the exit code."""
    with _warnings_as_lines(command):
        finished_before = finished_count()
        try:
            with _signals_raise(), atomic_group(claimed=[]):
                return int(func() or 0)
        except USER_ERRORS as error:
            return _fail(command, str(error))
        except KeyboardInterrupt as interrupt:
            return _interrupted(command, interrupt, finished_count() - finished_before)
        except OSError as error:
            if error.errno not in ENVIRONMENT_ERRNOS:
                return _bug(command)
            where = f": {error.filename}" if error.filename else ""
            return _fail(command, f"{error.strerror or error}{where}")
        except MemoryError:
            return _fail(command, "ran out of memory; use a smaller volume (crop it) or a machine with more memory")
        except Exception as error:
            if isinstance(error, RuntimeError) and any(text in str(error) for text in OUT_OF_MEMORY_TEXT):
                return _fail(command, f"ran out of memory ({str(error).splitlines()[0][:200]}); "
                                      "use a smaller volume (crop it) or a machine with more memory")
            return _bug(command)


def _fail(command: str, message: str) -> int:
    print(f"lowdose {command}: error: {message}", file=sys.stderr, flush=True)
    return USER_ERROR_EXIT


def _interrupted(command: str, interrupt: KeyboardInterrupt, finished: int) -> int:
    for number in (signal.SIGINT, signal.SIGTERM):
        _set_handler(number, signal.SIG_IGN)  # a second Ctrl+C does not cut the clean-up short
    removed = remove_temporaries()
    number = interrupt.signal_number if isinstance(interrupt, Interrupted) else signal.SIGINT
    name = interrupt.signal_name if isinstance(interrupt, Interrupted) else "SIGINT"
    kept = f"{finished} finished file(s) kept" if finished else "nothing was written"
    extra = f", {len(removed)} more temporary file(s) removed" if removed else ""
    print(f"lowdose {command}: interrupted by {name}; {kept}, no half-written file is left{extra}",
          file=sys.stderr, flush=True)
    return 128 + int(number)


def _bug(command: str) -> int:
    traceback.print_exc()
    print(f"lowdose {command}: internal error: this is a bug in lowdose, not a problem with your input; "
          "please report it with the traceback above", file=sys.stderr, flush=True)
    return BUG_EXIT


@contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`.Interrupted` in the main thread while the command runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(number, frame):
        raise Interrupted(number, signal.Signals(number).name)

    previous = {number: _set_handler(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            _set_handler(number, handler)


def _set_handler(number: int, handler):
    try:
        return signal.signal(number, handler)
    except ValueError:  # not the main thread
        return None


@contextmanager
def _warnings_as_lines(command: str) -> Iterator[None]:
    """Show each warning as ``lowdose CMD: warning: message`` (the filters decide which, as usual)."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"lowdose {command}: warning: {message}", file=sys.stderr, flush=True)

    with warnings.catch_warnings():  # restores the previous way of showing warnings afterwards
        warnings.showwarning = show
        yield
