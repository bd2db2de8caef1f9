"""The errors a user can cause, each ending a command with one line and exit code 2 (standard library only).

Anything else that escapes a command is a bug and is reported as one.
"""
from __future__ import annotations


class InputError(ValueError):
    """Bad input, described in words a physicist or radiologist understands."""


class BackendUnavailable(RuntimeError):
    """The requested projector backend cannot run here (missing package, no CUDA, unsupported mode)."""


class SegmenterFailed(RuntimeError):
    """A segmentation tool ran but failed; the message carries the end of its own error output."""


class Cancelled(RuntimeError):
    """The computation was stopped at the user's request; nothing half-written was left behind."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: raised in the main thread so that every pending write removes its temporary."""

    def __init__(self, signal_number: int, signal_name: str):
        super().__init__(signal_name)
        self.signal_number, self.signal_name = signal_number, signal_name


USER_ERRORS = (InputError, FileExistsError, FileNotFoundError, BackendUnavailable, SegmenterFailed, Cancelled)
"""Exceptions reported as one line naming the problem (exit code 2), never as a traceback."""
