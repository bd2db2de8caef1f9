"""The background process runner with real child processes (no Slicer needed)."""
import sys
import time

import pytest

from LowDoseRobustnessLib.cli import process_runner
from LowDoseRobustnessLib.cli.process_runner import (LIB_PARENT, ProcessError, ProcessRunner, RunnerCallbacks, Step,
                                                     lowdose_command, popen_options)
from LowDoseRobustnessLib.contract import parse_progress
from LowDoseRobustnessLib.errors import Cancelled

PY = sys.executable


def python_step(label, code, weight=1.0):
    return Step(label, [PY, "-c", code], weight)


def test_parse_progress_lines():
    assert parse_progress("[ 25%] reconstructed 20% dose") == (0.25, "reconstructed 20% dose")
    assert parse_progress("[100%] done") == (1.0, "done")
    assert parse_progress("[  0%]") == (0.0, "")
    assert parse_progress("wrote out.nii.gz (20% dose)") is None
    assert parse_progress("lowdose simulate: error: input not found") is None


def test_progress_is_parsed_and_scaled_over_steps():
    seen, logs, steps_done, finished = [], [], [], []
    code = "import sys\nfor p in (25, 50, 100): print(f'[{p:3d}%] part {p}', file=sys.stderr)\nprint('result line')"
    runner = ProcessRunner([python_step("first", code), python_step("second", code, weight=3.0)],
                           RunnerCallbacks(on_progress=lambda f, m: seen.append((f, m)), on_log=logs.append,
                                           on_step_done=lambda s: steps_done.append(s.label),
                                           on_finished=finished.append))
    runner.start().wait_for_completion(timeout=30)
    assert ("first: part 50" in [m for _, m in seen]) and ("second: part 50" in [m for _, m in seen])
    fractions = dict((m, f) for f, m in seen)
    assert fractions["first: part 100"] == pytest.approx(0.25)      # step 1 is 1/4 of the work
    assert fractions["second: part 50"] == pytest.approx(0.25 + 0.75 * 0.5)
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)
    assert seen[-1][0] == pytest.approx(1.0)
    assert logs.count("result line") == 2
    assert steps_done == ["first", "second"] and finished == [None]
    assert not runner.is_running and runner.error is None


def test_poll_delivers_on_the_callers_thread_only():
    seen = []
    runner = ProcessRunner([python_step("quick", "import sys; print('[ 50%] half', file=sys.stderr)")],
                           RunnerCallbacks(on_progress=lambda f, m: seen.append(m)))
    runner.start()
    while not runner.finished:          # what the GUI's QTimer does
        runner.poll()
        time.sleep(0.02)
    assert "quick: half" in seen


def test_nonzero_exit_raises_with_the_cli_message():
    code = ("import sys; print('[ 10%] reading', file=sys.stderr); "
            "print('lowdose simulate: error: input not found: /no/such.nii.gz', file=sys.stderr); sys.exit(2)")
    finished = []
    runner = ProcessRunner([python_step("simulate", code), python_step("never", "open('/tmp/x_never','w')")],
                           RunnerCallbacks(on_finished=finished.append))
    with pytest.raises(ProcessError, match="input not found: /no/such.nii.gz") as info:
        runner.start().wait_for_completion(timeout=30)
    assert info.value.returncode == 2 and info.value.step == "simulate"
    assert isinstance(finished[0], ProcessError)


def test_traceback_without_error_line_reports_last_lines():
    runner = ProcessRunner([python_step("crash", "raise SystemExit('the detector exploded')")])
    with pytest.raises(ProcessError, match="the detector exploded"):
        runner.wait_for_completion(timeout=30)


def test_cancel_kills_the_process_tree(tmp_path):
    marker = tmp_path / "grandchild_finished"
    grandchild = f"import time, pathlib; time.sleep(2); pathlib.Path({str(marker)!r}).write_text('x')"
    code = (f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {grandchild!r}]); "
            "print('[ 10%] started', file=sys.stderr, flush=True); time.sleep(30)")
    started = []
    runner = ProcessRunner([python_step("long", code), python_step("after", "print('should not run')")],
                           RunnerCallbacks(on_progress=lambda f, m: started.append(m)))
    runner.start()
    t0 = time.monotonic()
    while "long: started" not in started and time.monotonic() - t0 < 20:
        runner.poll()
        time.sleep(0.02)
    asked = time.monotonic()
    runner.cancel()
    assert time.monotonic() - asked < 0.5  # returns at once; a helper thread ends the process tree (up to 2 s)
    with pytest.raises(Cancelled):
        runner.wait_for_completion(timeout=20)
    assert time.monotonic() - t0 < 15
    time.sleep(3)  # the grandchild would have written its marker by now
    assert not marker.exists()


def test_wait_for_completion_timeout_cancels():
    runner = ProcessRunner([python_step("sleepy", "import time; time.sleep(30)")])
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        runner.wait_for_completion(timeout=1.0)
    assert time.monotonic() - t0 < 10 and runner.finished


def test_commands_start_in_their_own_group_and_hidden_on_windows(monkeypatch):
    assert popen_options(windows=False) == {"start_new_session": True}

    class StartupInfo:  # subprocess.STARTUPINFO exists on Windows only
        dwFlags, wShowWindow = 0, 1

    monkeypatch.setattr(process_runner.subprocess, "STARTUPINFO", StartupInfo, raising=False)
    options = popen_options(windows=True)
    assert options["creationflags"] == 0x00000200 | 0x08000000  # CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW
    assert options["startupinfo"].dwFlags & 1 and options["startupinfo"].wShowWindow == 0  # SW_HIDE, as Slicer


def test_commands_use_this_checkouts_lib(tmp_path):
    (tmp_path / "probe_cli.py").write_text("def main():\n    import LowDoseRobustnessLib\n"
                                           "    print(LowDoseRobustnessLib.__file__)\n    return 0\n")
    logs = []
    ProcessRunner([Step("probe", lowdose_command([], extra_paths=[tmp_path], module="probe_cli"))],
                  RunnerCallbacks(on_log=logs.append)).wait_for_completion(timeout=60)
    assert logs == [str(LIB_PARENT / "LowDoseRobustnessLib" / "__init__.py")]


def test_lowdose_command_runs_this_worktrees_cli(tmp_path):
    runner = ProcessRunner([Step("simulate", lowdose_command(["simulate", str(tmp_path / "missing.nii.gz"),
                                                              "--dose", "0.5", "-o", str(tmp_path / "out")]))])
    with pytest.raises(ProcessError, match="input not found"):
        runner.wait_for_completion(timeout=60)


def test_command_built_when_the_step_starts(tmp_path):
    marker = tmp_path / "first.txt"
    first = python_step("write", f"open({str(marker)!r}, 'w').write('from step 1')")
    second = Step("read", lambda: [PY, "-c", f"print({marker.read_text()!r})"])
    logs = []
    ProcessRunner([first, second], RunnerCallbacks(on_log=logs.append)).wait_for_completion(timeout=30)
    assert logs == ["from step 1"]
