"""The progress bar, status line and log of a module panel, fed by a background job.

Works with any objects that have the attributes the Qt widgets have (``value``,
``text``, ``appendPlainText``, ``clear``, ``start``/``stop``), so it needs no Qt import
and both modules (LowDoseRobustness, SyntheticCT) share it. The widget connects its
``qt.QTimer``'s ``timeout()`` to :meth:`JobPanel.poll`; all callbacks, and the
logic's loading of results into the scene, then run on the GUI thread.
"""
from __future__ import annotations

import logging
from typing import Callable, Optional

from LowDoseRobustnessLib.cli.process_runner import RunnerCallbacks
from LowDoseRobustnessLib.errors import Cancelled


class JobPanel:
    """Shows a job's progress; on the end calls ``on_success(job)`` or ``show_error(message, log_text)``."""

    def __init__(self, progress_bar, status_label, log_view, timer, show_error: Callable[[str, str], None],
                 on_state_changed: Optional[Callable[[], None]] = None):
        self.progress_bar, self.status_label, self.log_view, self.timer = progress_bar, status_label, log_view, timer
        self.show_error = show_error
        self.on_state_changed = on_state_changed or (lambda: None)
        self.job = None
        self._on_success: Callable = lambda job: None

    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.finished

    def callbacks(self, on_success: Callable = lambda job: None) -> RunnerCallbacks:
        """Callbacks to pass to the logic when starting a job; ``on_success(job)`` runs after its results loaded."""
        self._on_success = on_success
        return RunnerCallbacks(on_progress=self.on_progress, on_log=self.on_log, on_finished=self.on_finished)

    def start(self, job, message: str = "") -> None:
        """Follow ``job`` (already started by the logic with :meth:`callbacks`)."""
        self.job = job
        self.log_view.clear()
        self.progress_bar.value = 0
        self.status_label.text = message
        self.timer.start()
        self.on_state_changed()

    def poll(self) -> None:
        if self.job is not None:
            self.job.runner.poll()

    def cancel(self) -> None:
        if self.running:
            self.job.cancel()

    def on_progress(self, fraction: float, message: str) -> None:
        self.progress_bar.value = int(round(100 * fraction))
        self.status_label.text = message

    def on_log(self, line: str) -> None:
        self.log_view.appendPlainText(line)
        logging.debug(line)

    def on_finished(self, error) -> None:
        self.timer.stop()
        try:
            if isinstance(error, Cancelled):
                self.status_label.text = "Cancelled."
            elif error is not None:
                self.status_label.text = "Failed."
                self.show_error(str(error), self.log_view.toPlainText())
            else:
                self.progress_bar.value = 100
                self.status_label.text = "Done."
                self._on_success(self.job)
        finally:
            self.on_state_changed()
