"""Progress reporting and cancellation for long computations (GUI, CLI and batch alike)."""
from __future__ import annotations

import sys
from typing import Callable, Optional

from LowDoseRobustnessLib.contract import progress_line
from LowDoseRobustnessLib.errors import Cancelled

ProgressCallback = Callable[[float, str], None]
"""Called with the fraction done (0..1) and a short message."""

CancelCheck = Callable[[], bool]
"""Returns True when the user asked to stop."""


def print_progress(fraction: float, message: str) -> None:
    """A :data:`ProgressCallback` printing :func:`.contract.progress_line` lines to stderr (what the CLI does)."""
    print(progress_line(fraction, message), file=sys.stderr, flush=True)


class Progress:
    """Reports steps of a fixed plan and raises :class:`Cancelled` between steps when asked to."""

    def __init__(self, total_steps: int, callback: Optional[ProgressCallback] = None,
                 cancel: Optional[CancelCheck] = None):
        self.total, self.done = max(1, total_steps), 0
        self.callback, self.cancel = callback, cancel

    def step(self, message: str) -> None:
        """Mark one step done; check for cancellation first."""
        if self.cancel is not None and self.cancel():
            raise Cancelled("cancelled by the user")
        self.done += 1
        if self.callback is not None:
            self.callback(min(1.0, self.done / self.total), message)
