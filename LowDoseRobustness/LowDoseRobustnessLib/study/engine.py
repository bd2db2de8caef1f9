"""The study engine: cases x doses x reconstructions x models x noise realizations, resumable.

:func:`run_study` opens (or creates) the study folder, takes its lock, checks the
study-level settings against ``study.json``, plans the task graph (:mod:`.plan`), skips
every task whose artifacts are finished (:mod:`.artifacts`), runs the rest on an executor
(:mod:`.executors`), and writes the study's tables and report from all finished
comparisons of the request. A failing case or task is recorded in ``failures.csv`` and
the rest goes on. Rerunning the same request finishes an interrupted study; a request
with new doses, models, cases or realizations computes only the new cells.
"""
from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

from LowDoseRobustnessLib.contract import CASE_COLUMNS, FAILURE_COLUMNS, StudyLayout
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.atomic import atomic_write_text
from LowDoseRobustnessLib.progress import CancelCheck, ProgressCallback
from LowDoseRobustnessLib.study.executors import make_executor
from LowDoseRobustnessLib.study.folder import open_study_folder, read_manifest, remove_stale_temporaries, write_manifest
from LowDoseRobustnessLib.study.identity import FileHashes
from LowDoseRobustnessLib.study.lock import study_lock
from LowDoseRobustnessLib.study.plan import StudyRequest, StudySettings, plan_study
from LowDoseRobustnessLib.study.progress import StudyProgress
from LowDoseRobustnessLib.study.tasks import COMPARE, DONE, FAILED, SKIPPED, Task, TaskOutcome, simulation_settings


def log_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class StudyOutcome:
    """What a run of the engine did: the folder, each task's outcome, their counts, the failures (rows of
    failures.csv) and the results table (None if empty)."""

    layout: StudyLayout
    counts: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)
    results: object = None
    outcomes: list = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0: everything finished; 1: finished with failures (see failures.csv)."""
        return 1 if self.failures else 0


def run_study(request: StudyRequest, output_dir: str | Path, settings: StudySettings = StudySettings(),
              overwrite: bool = False, workers: int = 0, scheduler: Optional[str] = None,
              progress: Optional[ProgressCallback] = None, cancel: Optional[CancelCheck] = None,
              log: Callable[[str], None] = log_to_stderr, executor=None,
              threads: Optional[int] = None, refused: Optional[dict] = None) -> StudyOutcome:
    """Run (or resume, or extend) the study of ``request`` in ``output_dir``; see the module docstring.

    ``overwrite``: recompute every artifact of the request and accept changed study settings
    (files the engine did not write are never touched). ``workers`` > 1: a local process
    pool; ``scheduler``: a Dask scheduler address or ``local:N``; ``executor``: one of
    :mod:`.executors` given directly (instead of ``workers``/``scheduler``); ``threads``: torch
    threads per task (the same number gives the same bytes on every executor, CNNs included);
    ``refused``: case name -> why its input was refused before the run (recorded in failures.csv).
    """
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be at least 1, got {threads}")
    executor = executor or make_executor(workers, scheduler, log)
    layout = open_study_folder(output_dir)
    with study_lock(layout.lock, log):
        removed = remove_stale_temporaries(layout)
        if removed:
            log(f"removed {removed} temporary file(s) left by an interrupted run")
        manifest = read_manifest(layout.root) or {}
        _check_settings(layout, manifest.get("settings"), settings, overwrite)
        simulation_settings(settings.simulation(request.reconstructions[0], {}))  # the simulator takes them
        hashes = FileHashes(manifest.get("file_hashes"))
        outcome = StudyOutcome(layout)
        for name, error in (refused or {}).items():
            outcome.failures.append(_failure(name, "input", error))
            log(f"case {name}: {error}; the study goes on without it")
        inputs = _identify_cases(request, manifest.get("cases", {}), hashes, outcome.failures, log)
        request = replace(request, cases=tuple(c for c in request.cases if c.name in inputs))
        tasks = plan_study(request, settings, layout, inputs, hashes, overwrite)
        cases = {c.name: {"ct": str(c.ct), "ground_truth": str(c.ground_truth or ""), "contrast": c.contrast,
                          **inputs[c.name]} for c in request.cases}
        write_manifest(layout, {"settings": settings.as_dict(), "request": request.grid(),
                                "cases": {**manifest.get("cases", {}), **cases}, "file_hashes": hashes.known})
        atomic_write_text(layout.cases_csv, _cases_csv(request), overwrite=True)
        _run_tasks(tasks, executor, progress, cancel, outcome, threads)
        _write_failures(layout, outcome.failures)
        from LowDoseRobustnessLib.study.summary import write_study_results

        outcome.results = write_study_results(layout, [t for t in tasks if t.kind == COMPARE], request,
                                              overwrite, log)
    return outcome


def _check_settings(layout: StudyLayout, recorded: Optional[dict], settings: StudySettings, overwrite: bool) -> None:
    changes = settings.changes_from(recorded or {})
    if changes and not overwrite:
        raise InputError(f"{layout.root} holds a study simulated with other settings ({'; '.join(changes)}); "
                         "use the same settings, another folder, or --overwrite to recompute everything this "
                         "study owns")


def _identify_cases(request: StudyRequest, previous: dict, hashes: FileHashes, failures: list,
                    log: Callable[[str], None]) -> dict:
    """Case name -> content hashes of its CT and ground truth; unreadable cases go to ``failures``."""
    inputs = {}
    for case in request.cases:
        try:
            identity = {"ct_sha256": hashes(case.ct),
                        "ground_truth_sha256": _label_map_hash(case.ground_truth, hashes) if case.ground_truth else None}
        except OSError as error:
            failures.append(_failure(case.name, "case", f"cannot read the case's input: {error}"))
            log(f"case {case.name}: cannot read its input ({error}); the study goes on without it")
            continue
        before = previous.get(case.name) or {}
        for name, what in (("ct_sha256", "CT"), ("ground_truth_sha256", "ground truth")):
            if before.get(name) and identity[name] and before[name] != identity[name]:
                log(f"case {case.name}: its {what} changed since the last run; what depends on it is recomputed")
        inputs[case.name] = identity
    return inputs


def _label_map_hash(path: Path, hashes: FileHashes) -> str:
    """Content hash of a label map and of its label-name sidecar (names decide how labels are matched)."""
    from LowDoseRobustnessLib.io.labels import sidecar_path

    sidecar = sidecar_path(path)
    return hashes(path) + (f"+{hashes(sidecar)}" if sidecar.is_file() else "")


def _run_tasks(tasks: list[Task], executor, progress, cancel, outcome: StudyOutcome, threads=None) -> None:
    """Report finished tasks as skipped, run the others (dependencies on skipped tasks are met)."""
    to_run = [t for t in tasks if t.pending()]
    counter = StudyProgress(tasks, progress, getattr(executor, "workers", 1))
    by_id = {t.id: t for t in tasks}

    def on_outcome(task: Task, result: TaskOutcome) -> None:
        outcome.outcomes.append(result)
        outcome.counts[result.status] += 1
        if result.status == FAILED:
            outcome.failures.append(_failure(task.case.name, task.kind, result.error, task))
        counter(by_id[task.id], result)

    finished = [t for t in tasks if t not in to_run]
    outcome.outcomes += [TaskOutcome(t.id, SKIPPED) for t in finished]
    outcome.counts[SKIPPED] += len(finished)
    counter.skipped(finished)
    running = {t.id for t in to_run}
    executor.run([replace(t, depends=tuple(d for d in t.depends if d in running), threads=threads) for t in to_run],
                 on_outcome, cancel)
    outcome.counts.setdefault(DONE, 0)


def _failure(case: str, task: str, error: str, node: Optional[Task] = None) -> dict:
    row = dict.fromkeys(FAILURE_COLUMNS, "")
    row.update(case=case, task=task, error=" ".join(str(error).split()))
    if node is not None:
        row.update(dose=node.dose if node.kind != "simulate" else "", reconstruction=node.reconstruction,
                   model=node.model, realization=node.realization)
    return row


def _write_failures(layout: StudyLayout, failures: list) -> None:
    """``failures.csv`` of this run (the header alone when nothing failed)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, FAILURE_COLUMNS)
    writer.writeheader()
    writer.writerows(failures)
    atomic_write_text(layout.failures_csv, buffer.getvalue(), overwrite=True)


def _cases_csv(request: StudyRequest) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CASE_COLUMNS)
    for case in request.cases:
        writer.writerow([case.name, case.ct, case.ground_truth or "", "" if case.contrast is None else case.contrast])
    return buffer.getvalue()
