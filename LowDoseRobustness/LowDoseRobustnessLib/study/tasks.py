"""The tasks of a study graph and how a worker runs one.

Three kinds, each writing its artifacts (:mod:`.artifacts`) at their study-folder paths:

* ``simulate``: one case x reconstruction x noise realization at the doses whose volumes are
  not finished (one call shares the forward projection and the noise-retention estimate);
* ``segment``: one volume with one model -> label map + label names;
* ``compare``: one mask against the full-dose mask of the same case, reconstruction and model
  (reference ``full_dose``) or against the ground truth (``ground_truth``) -> per-label
  metrics table + disagreement map.

Tasks exchange nothing but files: a task reads its inputs from the study folder, so it runs
the same in this process, in a process pool or on a Dask worker that sees the folder, and
gives the same bytes (seeds come with the task). A failed task is an outcome, not an
exception, so the rest of the study goes on; its dependants are ``blocked``.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Optional
from LowDoseRobustnessLib.errors import USER_ERRORS, Cancelled
from LowDoseRobustnessLib.study.artifacts import Artifact
from LowDoseRobustnessLib.study.cases import Case

SIMULATE, SEGMENT, COMPARE = "simulate", "segment", "compare"
DONE, SKIPPED, FAILED, BLOCKED = "done", "skipped", "failed", "blocked"


@dataclass(frozen=True)
class Task:
    """One node of the study graph: what to compute, from which files, into which artifacts."""

    id: str
    kind: str
    case: Case
    reconstruction: str
    realization: int
    outputs: tuple[Artifact, ...]
    depends: tuple[str, ...] = ()
    dose: float = 1.0
    model: str = ""
    reference: str = ""
    inputs: tuple = ()
    """Files read: segment: (volume,); compare: (reference mask, test mask)."""
    options: dict = field(default_factory=dict)
    """simulate: ``simulation`` settings and ``seed``; segment: segmenter options; compare: ``contrast``."""
    memory_bytes: int = 0
    resources: dict = field(default_factory=dict)
    overwrite: bool = False
    threads: Optional[int] = None
    """torch threads for this task (None: the executor's); convolutions sum in an order that depends on it."""

    def pending(self) -> list[Artifact]:
        """The outputs still to write (all of them with ``overwrite``)."""
        return [a for a in self.outputs if self.overwrite or not a.is_finished()]


@dataclass(frozen=True)
class TaskOutcome:
    """What became of a task: ``done``, ``skipped`` (all outputs finished), ``failed`` or ``blocked``;
    when it ran, its start (seconds since the epoch) and duration."""

    task_id: str
    status: str
    error: str = ""
    seconds: float = 0.0
    started: float = 0.0


def run_task(task: Task, *upstream: TaskOutcome, cancel=None) -> TaskOutcome:
    """Run ``task`` unless an upstream task failed; errors become a ``failed`` outcome (cancellation does not)."""
    failed = [u.task_id for u in upstream if u.status in (FAILED, BLOCKED)]
    if failed:
        return TaskOutcome(task.id, BLOCKED, f"needs {failed[0]}, which failed")
    if not task.pending():
        return TaskOutcome(task.id, SKIPPED)
    started, start = time.time(), time.perf_counter()
    status, error = DONE, ""
    try:
        with torch_threads(task.threads):
            RUNNERS[task.kind](task, cancel)
    except Cancelled:
        raise
    except USER_ERRORS as failure:
        status, error = FAILED, str(failure)
    except Exception as failure:  # a model or library failing on one case must not stop the study
        status, error = FAILED, f"{type(failure).__name__}: {failure}"
    return TaskOutcome(task.id, status, error, time.perf_counter() - start, started)


@contextmanager
def torch_threads(threads: Optional[int]) -> Iterator[None]:
    """Run the block with ``threads`` torch intra-op threads (unchanged when None), then restore the count."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def simulation_settings(options: dict):
    """:class:`.simulate.SimulationSettings` from a task's ``simulation`` options."""
    from dataclasses import fields

    from LowDoseRobustnessLib.errors import InputError
    from LowDoseRobustnessLib.simulation.simulate import SimulationSettings

    values = dict(options)
    accepted = {f.name for f in fields(SimulationSettings)}
    unknown = sorted(set(values) - accepted)
    if unknown:
        raise InputError(f"this simulator has no setting {', '.join(unknown)} "
                         f"({', '.join(f'{k}={values[k]!r}' for k in unknown)})")
    return SimulationSettings(**values)


def _simulate(task: Task, cancel) -> None:
    from LowDoseRobustnessLib.io.volumes import write_volume
    from LowDoseRobustnessLib.study.cases import simulate_case

    pending = task.pending()
    settings = simulation_settings(task.options["simulation"])
    volumes = simulate_case(task.case, [a.recipe["dose"] for a in pending], settings, task.options["seed"], cancel,
                            task.options.get("fix_nonfinite", False), task.options.get("model_seed", 0))
    for artifact in pending:
        artifact.open()
        write_volume(volumes[artifact.recipe["dose"]], artifact.path, overwrite=True)
        artifact.commit()


def _segment(task: Task, cancel) -> None:
    from LowDoseRobustnessLib.io.labels import write_label_names
    from LowDoseRobustnessLib.io.volumes import read_volume, write_volume
    from LowDoseRobustnessLib.study.worker_cache import segmenter_for

    volume = read_volume(task.inputs[0])
    segmentation = segmenter_for(task.model, tuple(sorted(task.options.items()))).segment(volume)
    artifact = task.outputs[0]
    artifact.open()
    write_volume(segmentation.label_map, artifact.path, overwrite=True)
    write_label_names(artifact.path, segmentation.names, overwrite=True)
    artifact.commit()


def _compare(task: Task, cancel) -> None:
    from LowDoseRobustnessLib.evaluation.disagreement import CLASS_NAMES, disagreement_map
    from LowDoseRobustnessLib.evaluation.metrics import compare_label_maps
    from LowDoseRobustnessLib.evaluation.results import tidy_table, write_table
    from LowDoseRobustnessLib.io.labels import (label_names_or_totalsegmentator, read_label_names, relabel_by_name,
                                                write_label_names)
    from LowDoseRobustnessLib.io.volumes import read_volume, write_volume

    reference_path, test_path = task.inputs
    reference, test = read_volume(reference_path), read_volume(test_path)
    names = read_label_names(test_path)
    if task.reference == "ground_truth":
        truth_names = label_names_or_totalsegmentator(reference_path)[0]
        if truth_names:  # matched to the model's labels by name
            reference = reference.with_array(relabel_by_name(reference.array, truth_names, names))
    metrics = compare_label_maps(reference, test, names=names)
    table = tidy_table(metrics, case=task.case.name, dose=task.dose, reconstruction=task.reconstruction,
                       model=task.model, reference=task.reference, contrast=task.options.get("contrast"),
                       realization=task.realization)
    classes = disagreement_map(reference, test)
    artifact = task.outputs[0]
    table_path, map_path = artifact.path, artifact.companions[0]
    artifact.open()
    write_table(table, table_path, overwrite=True)
    write_volume(classes, map_path, overwrite=True)
    write_label_names(map_path, CLASS_NAMES, overwrite=True)
    artifact.commit()


RUNNERS = {SIMULATE: _simulate, SEGMENT: _segment, COMPARE: _compare}

