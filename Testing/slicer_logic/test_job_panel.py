"""The shared progress/log panel, with stand-ins for the Qt widgets and a real background job."""
import sys
import time

import pytest

from LowDoseRobustnessLib.cli.process_runner import ProcessRunner, Step
from LowDoseRobustnessSlicer.job_panel import JobPanel


class Widget:  # the attributes of QProgressBar / QLabel / QPlainTextEdit / QTimer the panel uses
    value, text, lines, active = 0, "", None, False

    def clear(self):
        self.lines = []

    def appendPlainText(self, line):
        self.lines.append(line)

    def toPlainText(self):
        return "\n".join(self.lines)

    def start(self):
        self.active = True

    def stop(self):
        self.active = False


class Job:
    def __init__(self, code):
        self.runner = ProcessRunner([Step("work", [sys.executable, "-c", code])])

    finished = property(lambda self: self.runner.finished)

    def cancel(self):
        self.runner.cancel()


def run(code):
    bar, label, log, timer = Widget(), Widget(), Widget(), Widget()
    errors, successes = [], []
    panel = JobPanel(bar, label, log, timer, lambda message, text: errors.append((message, text)))
    job = Job(code)
    job.runner.callbacks = panel.callbacks(successes.append)
    panel.start(job.runner.start() and job, "starting")
    assert timer.active and panel.running
    while timer.active:  # the QTimer
        panel.poll()
        time.sleep(0.02)
    return bar, label, log, errors, successes, job


def test_success_updates_bar_log_and_calls_back():
    bar, label, log, errors, successes, job = run("import sys; print('[ 40%] half way', file=sys.stderr); print('ok')")
    assert bar.value == 100 and label.text == "Done." and "ok" in log.lines
    assert successes == [job] and errors == []


def test_failure_shows_the_cli_message_with_the_log():
    bar, label, log, errors, successes, job = run(
        "import sys; print('lowdose synth: error: label map is empty', file=sys.stderr); sys.exit(2)")
    assert label.text == "Failed." and successes == []
    assert errors[0][0] == "lowdose synth: error: label map is empty" and "label map is empty" in errors[0][1]


def test_start_job_asks_before_overwriting():
    pytest.importorskip("slicer", reason="needs the slicer-core wheel")
    from LowDoseRobustnessSlicer.module_widget import ModuleWidgetMixin

    class Panel:
        started = None

        def start(self, job, message):
            self.started = (job, message)

    widget = ModuleWidgetMixin()
    widget.panel = Panel()
    calls = []

    def start(overwrite):
        calls.append(overwrite)
        if not overwrite:
            raise FileExistsError("3 result file(s) already exist")
        return "job"

    assert widget.startJob(start, lambda reason: False, str) is None and calls == [False]
    assert widget.panel.started is None
    assert widget.startJob(start, lambda reason: "already exist" in reason, lambda job: f"running {job}") == "job"
    assert calls == [False, False, True] and widget.panel.started == ("job", "running job")
    assert ModuleWidgetMixin.chosenFolder(None) is None and ModuleWidgetMixin.chosenFolder(".") is None
    assert ModuleWidgetMixin.chosenFolder("/data/out") == "/data/out"
