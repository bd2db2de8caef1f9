"""The LowDoseRobustness module's logic: the study engine on scene nodes, and comparisons of any two segmentations.

Importable without Qt (slicer-core is enough), so it runs in tests, in the Slicer Python console
and in batch mode alike::

    logic = StudyLogic(slicer.mrmlScene)  # in Slicer: slicer.util.getModuleLogic("LowDoseRobustness")
    job = logic.run_study(getNode("CT"), doses=[0.2, 0.4], reconstructions=["fbp"], model="builtin",
                          output_folder="/tmp/study", wait_for_completion=True)
    job.study.table_node, job.study.volumes

A study is one ``lowdose study`` command (the engine) in a background process: the logic exports
the input CT (and ground truth) into the study folder, runs the command, and when it ends loads the
folder the engine wrote (:mod:`.study_folder`). Without ``wait_for_completion`` the call returns at
once; the caller must call ``job.runner.poll()`` regularly (the module widget does so from a QTimer),
which delivers progress and loads the results on the caller's thread.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from LowDoseRobustnessLib.cli.process_runner import ProcessError, ProcessRunner, RunnerCallbacks, Step, lowdose_command
from LowDoseRobustnessLib.contract import (DEFAULT_DOSES, GENERIC_LABEL_NAME, INCIDENT_FLUX_AUTO,
                                           RECONSTRUCTIONS, SAMPLE_CT, SAMPLE_LABELS, StudyLayout, safe_name)
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.labels import read_label_names, write_label_names
from LowDoseRobustnessLib.io.volumes import read_volume, write_volume
from LowDoseRobustnessLib.study.folder import open_study_folder

from LowDoseRobustnessSlicer import nodes, views
from LowDoseRobustnessSlicer.comparison import compare_segmentations
from LowDoseRobustnessSlicer.study_folder import Cell, StudyNodes, load_study

SAMPLE_NODE_NAMES = ["LowDoseRobustness sample CT", "LowDoseRobustness sample labels"]
"""Node names of the bundled sample (contract.SAMPLE_CT, SAMPLE_LABELS), as the Sample Data module loads them."""


def default_python() -> str:
    """The interpreter for background commands: ``PythonSlicer`` inside Slicer, else this Python."""
    executable = Path(sys.executable).name.lower()
    if not executable.startswith("python"):  # inside Slicer sys.executable is the application
        found = shutil.which("PythonSlicer", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                                  os.environ.get("PATH", "")]))
        if found:
            return found
    return sys.executable


class BackgroundJob:
    """Something a :class:`ProcessRunner` (attribute ``runner``) works on in the background."""

    runner: ProcessRunner

    @property
    def finished(self) -> bool:
        return self.runner.finished

    def cancel(self) -> None:
        self.runner.cancel()

    def wait_for_completion(self, timeout: Optional[float] = None):
        """Block until done (delivering callbacks); raises the job's error. Returns the job."""
        self.runner.wait_for_completion(timeout)
        return self


@dataclass
class StudyJob(BackgroundJob):
    """A running or finished ``lowdose study``: its folder, case, runner and, once loaded, its nodes."""

    layout: StudyLayout
    case: str
    runner: ProcessRunner = None
    study: Optional[StudyNodes] = None
    load_errors: list = field(default_factory=list)

    def wait_for_completion(self, timeout: Optional[float] = None) -> "StudyJob":
        """Block until done; raises the engine's error, or :class:`InputError` if the results did not load."""
        super().wait_for_completion(timeout)
        if self.load_errors:
            raise InputError("; ".join(self.load_errors))
        return self


def study_arguments(input_path: Path, layout: StudyLayout, case: str, doses: Sequence[float],
                    reconstructions: Sequence[str], model: str, ground_truth_path: Optional[Path], seed: int,
                    backend: str, geometry: str, incident_flux: float | str, overwrite: bool) -> list[str]:
    """``lowdose study`` arguments in the one-CT form the engine keeps."""
    arguments = ["study", str(input_path)]
    for dose in doses:
        arguments += ["--dose", f"{float(dose):g}"]
    for reconstruction in reconstructions:
        arguments += ["--recon", reconstruction]
    arguments += ["--model", model]
    if ground_truth_path is not None:
        arguments += ["--ground-truth", str(ground_truth_path)]
    arguments += ["--case", case, "--seed", str(int(seed)), "--backend", backend, "--geometry", geometry,
                  "--incident-flux", _flux_argument(incident_flux), "-o", str(layout.root)]
    return arguments + (["--overwrite"] if overwrite else [])


def _flux_argument(incident_flux: float | str) -> str:
    """``--incident-flux``: ``auto`` (fitted to the input's noise) or the number."""
    return INCIDENT_FLUX_AUTO if incident_flux == INCIDENT_FLUX_AUTO else f"{float(incident_flux):g}"


def _check_study_settings(doses: Sequence[float], reconstructions: Sequence[str], model: str) -> None:
    if not doses:
        raise InputError("choose at least one dose level")
    bad = [d for d in doses if not 0.0 < float(d) <= 1.0]
    if bad:
        raise InputError(f"dose fractions must lie in (0, 1]; got {bad}")
    if not reconstructions:
        raise InputError("choose at least one reconstruction")
    unknown = [r for r in reconstructions if r not in RECONSTRUCTIONS]
    if unknown:
        raise InputError(f"unknown reconstruction {', '.join(unknown)}; choose from {', '.join(RECONSTRUCTIONS)}")
    if not str(model).strip():
        raise InputError("choose a segmentation model (builtin, totalsegmentator[:TASK], nnunet:PATH, monai:CONFIG)")


def _export(volume, path: Path, overwrite: bool, what: str) -> None:
    """Write ``volume`` to ``path``; an identical file is kept (the engine then reuses its results)."""
    if path.exists():
        existing = read_volume(path)
        if existing.same_grid(volume) and np.array_equal(existing.array, volume.array):
            return
        if not overwrite:
            raise FileExistsError(f"the study folder already holds another {what} ({path}); choose another "
                                  "output folder or case name, or allow replacing the study's results")
    write_volume(volume, path, overwrite=True)


class StudyLogic:
    """Runs studies on nodes of ``scene`` and compares segmentations; everything Slicer-specific is passed in.

    python: interpreter for the ``lowdose`` commands (default :func:`default_python`).
    """

    def __init__(self, scene, python: Optional[str] = None):
        self.scene = scene
        self.python = python or default_python()

    def run_study(self, input_node, doses: Sequence[float] = DEFAULT_DOSES, reconstructions: Sequence[str] = ("fbp",),
                  model: str = "builtin", ground_truth=None, output_folder=None, case: Optional[str] = None,
                  seed: int = 0, incident_flux: float | str = INCIDENT_FLUX_AUTO, geometry: str = "clinical",
                  backend: str = "auto", overwrite: bool = False, wait_for_completion: bool = False,
                  callbacks: Optional[RunnerCallbacks] = None, load_results: bool = True) -> StudyJob:
        """Simulate ``doses`` of ``input_node`` through ``reconstructions``, segment with ``model``, compare.

        The engine (``lowdose study``) writes everything into ``output_folder`` (default: a new
        temporary folder), a study folder as :class:`contract.StudyLayout` describes it; the input
        goes to ``inputs/<case>.nii.gz`` and ``ground_truth`` (a segmentation or label map node) to
        ``inputs/<case>_ground_truth.nii.gz`` with its names (none when all are generic, ``Segment_5``:
        the engine then reads it as it reads a label-map file). A folder holding other files is refused.
        overwrite: recompute everything this study owns (``--overwrite``); when False and the folder
        holds a different input for ``case``, raises :class:`FileExistsError` (the GUI asks, then calls
        again with True). Raises :class:`InputError` for bad input; with ``wait_for_completion`` also the
        engine's :class:`ProcessError` or :class:`Cancelled`.
        """
        if input_node is None:
            raise InputError("choose an input CT volume")
        doses, reconstructions = [float(d) for d in doses], list(dict.fromkeys(reconstructions))
        _check_study_settings(doses, reconstructions, model)
        folder = Path(output_folder) if output_folder else Path(tempfile.mkdtemp(prefix="LowDoseRobustness-"))
        layout = open_study_folder(folder)
        case = safe_name(case or input_node.GetName())
        _export(nodes.volume_from_node(input_node), layout.input_volume(case), overwrite, f"input CT for case {case!r}")
        truth_path = None
        if ground_truth is not None:
            labels, names = nodes.labels_from_node(ground_truth, input_node)
            truth_path = layout.input_ground_truth(case)
            _export(labels, truth_path, overwrite, f"ground truth for case {case!r}")
            if not all(GENERIC_LABEL_NAME.match(name) for name in names.values()):
                write_label_names(truth_path, names, overwrite=True)
        arguments = study_arguments(layout.input_volume(case), layout, case, doses, reconstructions, model.strip(),
                                    truth_path, seed, backend, geometry, incident_flux, overwrite)
        job = StudyJob(layout, case)
        job.runner = ProcessRunner([Step("study", lowdose_command(arguments, self.python))],
                                   self._loading_callbacks(job, callbacks or RunnerCallbacks(), load_results))
        job.runner.start()
        if wait_for_completion:
            job.wait_for_completion()
        return job

    def _loading_callbacks(self, job: StudyJob, user: RunnerCallbacks, load_results: bool) -> RunnerCallbacks:
        """The caller's callbacks, with the study folder loaded before the caller hears that the engine ended."""

        def finished(error):
            partial = isinstance(error, ProcessError) and job.layout.results_csv.exists()
            if load_results and (error is None or partial):  # a study with failed tasks still shows the rest
                try:
                    job.study = self.load_study(job.layout.root, job.case)
                except Exception as load_error:  # a file the scene cannot take must not stop the GUI
                    job.load_errors.append(f"could not load the study in {job.layout.root}: {load_error}")
                    if user.on_log:
                        user.on_log(job.load_errors[-1])
                    error = error or InputError(job.load_errors[-1])
            if user.on_finished:
                user.on_finished(error)

        return RunnerCallbacks(user.on_progress, user.on_log, user.on_step_done, finished)

    def load_study(self, folder, case: Optional[str] = None) -> StudyNodes:
        """Load a study folder written by ``lowdose study`` (here, from the CLI, or on a cluster)."""
        return load_study(self.scene, folder, case)

    def compare_segmentations(self, reference_node, test_node, volume_node, show_agreement: bool = False,
                              name: str = ""):
        """Dice, HD95 (mm), surface Dice and volumes per segment into a table node, and the disagreement
        overlay on ``volume_node``: returns ``(table_node, disagreement_segmentation_node)``."""
        return compare_segmentations(self.scene, reference_node, test_node, volume_node, name, show_agreement)

    def show_cell(self, study: StudyNodes, cell: Cell, model: Optional[str] = None):
        """Show one low-dose cell: its volume with its disagreement overlay (every other overlay hidden)
        beside the full-dose volume of the same reconstruction. Returns the overlay shown."""
        overlay = study.disagreements.get((cell, model or study.models[0]))
        views.show_pair(self.scene, study.volumes[cell], study.volumes.get(study.full_dose(cell)),
                        study.disagreements.values(), overlay)
        return overlay

    def centre_on_row(self, table_node, row: int, segmentation_node):
        """Centre the views on the structure named in ``row`` of a metrics table (None when it is empty)."""
        name = table_node.GetTable().GetColumnByName("name").GetValue(row)
        return views.centre_on_segment(self.scene, segmentation_node, str(name))

    def centre_on_study_row(self, study: StudyNodes, row: int) -> Cell:
        """Show the cell of a row of the study's results table and centre on its structure; returns the cell."""
        values = study.rows[row]
        if values["case"] != study.case:
            raise InputError(f"this row is case {values['case']!r}; load that case of the study to see it")
        cell = Cell(values["case"], values["reconstruction"], float(values["dose"]), int(values["realization"]))
        if (cell, values["model"]) in study.disagreements:
            self.show_cell(study, cell, values["model"])
        full_dose = study.segmentations[(study.full_dose(cell), values["model"])]
        views.centre_on_segment(self.scene, full_dose, values["name"])
        return cell

    def load_files(self, ct_path, labels_path=None, name: Optional[str] = None):
        """A CT file and, optionally, a label map on its grid (names from its sidecar) as nodes; no Slicer IO
        needed (batch mode, tests). Returns ``(ct_node, segmentation_node or None)``."""
        name = name or Path(ct_path).name.split(".")[0]
        ct = nodes.add_volume_node(self.scene, read_volume(ct_path), name)
        if labels_path is None:
            return ct, None
        return ct, nodes.segmentation_from_labels(self.scene, read_volume(labels_path), read_label_names(labels_path),
                                                  f"{name} labels", reference_volume_node=ct)

    def load_sample(self):
        """The bundled sample CT and its labels (a segmentation on the CT) as new nodes."""
        ct, labels = self.load_files(SAMPLE_CT, SAMPLE_LABELS, SAMPLE_NODE_NAMES[0])
        labels.SetName(SAMPLE_NODE_NAMES[1])
        return ct, labels
