"""Progress reporting and cancellation for long computations (GUI, CLI and batch alike)."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

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


@contextmanager
def terminal_progress() -> Iterator[ProgressCallback]:
    """The command line's :data:`ProgressCallback`: a tqdm bar on a terminal, else :func:`print_progress` lines."""
    if not sys.stderr.isatty():
        yield print_progress
        return
    from tqdm import tqdm

    with tqdm(total=100, unit="%", file=sys.stderr, bar_format="{l_bar}{bar}| {elapsed} {postfix}") as bar:

        def show(fraction: float, message: str) -> None:
            bar.n = round(100 * min(max(fraction, 0.0), 1.0))
            bar.set_postfix_str(message, refresh=True)

        yield show
