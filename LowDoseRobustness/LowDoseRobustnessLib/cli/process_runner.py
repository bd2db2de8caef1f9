"""Run ``lowdose`` commands in a background process without blocking a GUI.

A :class:`ProcessRunner` runs a list of :class:`Step` commands one after another in
child processes. Reader threads put every output line on a queue; nothing is
delivered to the caller's callbacks until the caller drains that queue with
:meth:`ProcessRunner.poll` (a GUI calls it from a timer on its own thread) or
blocks in :meth:`ProcessRunner.wait_for_completion` (batch mode). Progress lines
of the form ``[ 25%] message`` (what the ``lowdose`` CLI prints on stderr) become
progress events; :meth:`ProcessRunner.cancel` kills the whole process tree.

Pure Python (no slicer/qt/vtk): in Slicer the interpreter is ``PythonSlicer``.
"""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from LowDoseRobustnessLib.contract import parse_progress
from LowDoseRobustnessLib.errors import Cancelled

LIB_PARENT = Path(__file__).resolve().parents[2]
"""The folder holding ``LowDoseRobustnessLib`` (the LowDoseRobustness module folder, or an extension's
scripted-modules folder)."""


def lowdose_command(arguments: Sequence[str], python: Optional[str] = None,
                    extra_paths: Sequence[str | Path] = (), module: str = "LowDoseRobustnessLib.cli") -> list[str]:
    """The command line that runs ``lowdose ARGUMENTS`` with this copy of the Lib.

    ``python`` is the interpreter (default: this one; in Slicer pass ``PythonSlicer``).
    The Lib's folder and ``extra_paths`` (a package building on the Lib passes its own folder,
    e.g. SyntheticCT) are put first on ``sys.path`` inside the child, so the command uses the
    same code as the module that starts it, however that interpreter's environment is set up.
    ``module`` provides ``main()`` (SyntheticCT passes ``SyntheticCTLib.cli``, which adds its commands).
    """
    paths = list(dict.fromkeys([str(LIB_PARENT), *(str(Path(p).resolve()) for p in extra_paths)]))
    bootstrap = (f"import sys; sys.path[:0] = {paths!r}; "
                 f"from {module} import main; sys.exit(main())")
    return [python or sys.executable, "-c", bootstrap, *[str(a) for a in arguments]]


class ProcessError(RuntimeError):
    """A step's process ended with a non-zero exit code; the message is the CLI's own error."""

    def __init__(self, message: str, step: str = "", returncode: Optional[int] = None):
        super().__init__(message)
        self.step, self.returncode = step, returncode


@dataclass
class Step:
    """One command of a job: a label shown to the user, the command line, its share of the progress bar.

    ``command`` may be a function returning the command line, called when the step starts
    (for commands that depend on what earlier steps wrote).
    """

    label: str
    command: list[str] | Callable[[], list[str]]
    weight: float = 1.0
    tag: tuple = ()
    """What the step produces, for the caller (e.g. ``("segment", 0.2)``)."""


@dataclass
class Event:
    """Something that happened in the background: ``kind`` is progress, log, step_done or finished."""

    kind: str
    fraction: float = 0.0
    message: str = ""
    step: Optional[Step] = None
    error: Optional[BaseException] = None


@dataclass
class RunnerCallbacks:
    """What the caller wants to hear; all are called from :meth:`ProcessRunner.poll` (the caller's thread)."""

    on_progress: Optional[Callable[[float, str], None]] = None
    on_log: Optional[Callable[[str], None]] = None
    on_step_done: Optional[Callable[[Step], None]] = None
    on_finished: Optional[Callable[[Optional[BaseException]], None]] = None


def _error_message(stderr_tail: Sequence[str], returncode: int, step: Step) -> str:
    """The CLI's error line (``lowdose x: error: ...``), else its last stderr lines, else the exit code."""
    lines = [line for line in stderr_tail if line.strip() and parse_progress(line) is None]
    errors = [line for line in lines if "error" in line.lower()]
    if errors:
        return errors[-1].strip()
    if lines:
        return "\n".join(line.strip() for line in lines[-5:])
    return f"{step.label} failed (exit code {returncode})"


class ProcessRunner:
    """Runs :class:`Step` commands sequentially in child processes, reporting through a queue.

    >>> runner = ProcessRunner([Step("hello", [sys.executable, "-c", "print('hi')"])])
    >>> runner.start().wait_for_completion()
    """

    def __init__(self, steps: Sequence[Step], callbacks: Optional[RunnerCallbacks] = None,
                 env: Optional[dict] = None, cwd: Optional[str | Path] = None, log_limit: int = 50):
        if not steps:
            raise ValueError("nothing to run: no steps given")
        self.steps = list(steps)
        self.callbacks = callbacks or RunnerCallbacks()
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.cwd = cwd
        self.events: "queue.Queue[Event]" = queue.Queue()
        self.error: Optional[BaseException] = None
        self.finished = False
        self._log_limit = log_limit
        self._cancel = threading.Event()
        self._process: Optional[subprocess.Popen] = None
        self._process_lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None

    # -- control ---------------------------------------------------------------------------------
    def start(self) -> "ProcessRunner":
        """Start the first step in the background and return at once."""
        if self._thread is not None:
            raise RuntimeError("this runner has already been started")
        self._thread = threading.Thread(target=self._run_steps, name="lowdose-runner", daemon=True)
        self._thread.start()
        return self

    @property
    def is_running(self) -> bool:
        return self._thread is not None and not self.finished

    def cancel(self) -> None:
        """Stop now without waiting: a helper thread kills the running process and its children; later
        steps do not start. Returns at once, so a GUI thread may call it."""
        self._cancel.set()
        with self._process_lock:
            process = self._process
        if process is not None and process.poll() is None:
            threading.Thread(target=kill_process_tree, args=(process,), name="lowdose-cancel", daemon=True).start()

    def poll(self) -> list[Event]:
        """Deliver queued events to the callbacks (call from the GUI thread, e.g. a QTimer)."""
        delivered = []
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return delivered
            self._dispatch(event)
            delivered.append(event)

    def wait_for_completion(self, timeout: Optional[float] = None, poll_interval: float = 0.05) -> None:
        """Block until every step has run (delivering events); raise the failure, if any.

        Raises :class:`ProcessError` (with the CLI's message) when a step fails,
        :class:`Cancelled` when cancelled, :class:`TimeoutError` (after cancelling) on timeout.
        """
        if self._thread is None:
            self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.finished:
            if deadline is not None and time.monotonic() > deadline:
                self.cancel()
                self._thread.join()
                self.poll()
                raise TimeoutError(f"the job did not finish within {timeout:g} s and was cancelled")
            try:
                event = self.events.get(timeout=poll_interval)
            except queue.Empty:
                continue
            self._dispatch(event)
        self.poll()
        if self.error is not None:
            raise self.error

    # -- background ------------------------------------------------------------------------------
    def _dispatch(self, event: Event) -> None:
        callbacks = self.callbacks
        if event.kind == "progress" and callbacks.on_progress:
            callbacks.on_progress(event.fraction, event.message)
        elif event.kind == "log" and callbacks.on_log:
            callbacks.on_log(event.message)
        elif event.kind == "step_done" and callbacks.on_step_done:
            callbacks.on_step_done(event.step)
        elif event.kind == "finished":
            self.error, self.finished = event.error, True
            if callbacks.on_finished:
                callbacks.on_finished(event.error)

    def _run_steps(self) -> None:
        total = sum(max(0.0, s.weight) for s in self.steps) or 1.0
        done = 0.0
        error: Optional[BaseException] = None
        try:
            for step in self.steps:
                if self._cancel.is_set():
                    raise Cancelled("cancelled by the user")
                start = done / total
                self.events.put(Event("progress", start, f"{step.label}: starting", step))
                self._run_step(step, start, max(0.0, step.weight) / total)
                done += max(0.0, step.weight)
                self.events.put(Event("progress", done / total, f"{step.label}: done", step))
                self.events.put(Event("step_done", done / total, step.label, step))
        except BaseException as caught:  # reported to the caller's thread, never lost in this one
            error = caught
        self.events.put(Event("finished", 1.0 if error is None else 0.0, "", None, error))

    def _run_step(self, step: Step, start: float, share: float) -> None:
        options = popen_options()
        try:
            command = step.command() if callable(step.command) else step.command
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       stdin=subprocess.DEVNULL, env=self.env, cwd=self.cwd, text=True,
                                       encoding="utf-8", errors="replace", bufsize=1, **options)
        except (OSError, ValueError) as error:  # ValueError: bad input found when building the command
            raise ProcessError(f"cannot start {step.label}: {error}", step.label) from None
        with self._process_lock:
            self._process = process
        if self._cancel.is_set():
            kill_process_tree(process)
        stderr_tail: deque[str] = deque(maxlen=self._log_limit)
        readers = [threading.Thread(target=self._read, args=(process.stdout, step, start, share, None), daemon=True),
                   threading.Thread(target=self._read, args=(process.stderr, step, start, share, stderr_tail),
                                    daemon=True)]
        for reader in readers:
            reader.start()
        returncode = process.wait()
        for reader in readers:
            reader.join()
        with self._process_lock:
            self._process = None
        if self._cancel.is_set():
            raise Cancelled(f"{step.label} cancelled by the user")
        if returncode != 0:
            raise ProcessError(_error_message(stderr_tail, returncode, step), step.label, returncode)

    def _read(self, stream, step: Step, start: float, share: float, tail: Optional[deque]) -> None:
        for line in iter(stream.readline, ""):
            line = line.rstrip("\r\n")
            if tail is not None:
                tail.append(line)
            progress = parse_progress(line)
            if progress is not None:
                self.events.put(Event("progress", start + share * progress[0], f"{step.label}: {progress[1]}", step))
            self.events.put(Event("log", 0.0, line, step))
        stream.close()


CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW = 0x00000200, 0x08000000
STARTF_USESHOWWINDOW, SW_HIDE = 0x00000001, 0
"""Windows process-creation and start-up flags (values of the Win32 API, also on other systems for tests)."""


def popen_options(windows: bool = os.name == "nt") -> dict:
    """How a command starts: in its own process group, so that cancel reaches every process it starts,
    and on Windows without a console window (hidden as ``slicer.util.launchConsoleProcess`` hides it)."""
    if not windows:
        return {"start_new_session": True}
    startupinfo = subprocess.STARTUPINFO()
    startupinfo.dwFlags |= STARTF_USESHOWWINDOW
    startupinfo.wShowWindow = SW_HIDE
    return {"creationflags": CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW, "startupinfo": startupinfo}


def kill_process_tree(process: subprocess.Popen, grace_s: float = 2.0) -> None:
    """Terminate ``process`` and every process it started (its process group / Windows job tree)."""
    if process.poll() is not None:
        return
    if os.name == "posix":
        try:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(process.pid)], capture_output=True, **popen_options())
