"""The LowDoseRobustness module's logic: nodes in, ``lowdose`` commands in the background, nodes out.

Importable without Qt (slicer-core is enough), so it runs in tests, in the Slicer
Python console and in batch mode alike::

    logic = StudyLogic(slicer.mrmlScene)  # in Slicer: slicer.util.getModuleLogic("LowDoseRobustness")
    study = logic.run_study(getNode("CTChest"), doses=[0.2, 0.4], model="builtin",
                            output_folder="/tmp/study", wait_for_completion=True)
    study.results.table_node, study.results.volume_nodes[0.2]

Without ``wait_for_completion`` the call returns at once; the caller must call
``study.runner.poll()`` regularly (the module widget does so from a QTimer), which
delivers progress and loads each step's results into the scene on the caller's thread.
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

from LowDoseRobustnessLib.io.volumes import read_volume, write_volume
from LowDoseRobustnessLib.io.labels import read_label_names, write_label_names
from LowDoseRobustnessLib.cli.process_runner import ProcessRunner, RunnerCallbacks, Step, lowdose_command
from LowDoseRobustnessLib.errors import InputError

from LowDoseRobustnessSlicer import nodes
from LowDoseRobustnessSlicer.study import (DEFAULT_STEPS, REFERENCE_DOSE, PlannedStep, StudyPaths, StudySettings, compared_doses, existing_outputs,
                    plan_study, read_metrics_csv)


def default_python() -> str:
    """The interpreter for background commands: ``PythonSlicer`` inside Slicer, else this Python."""
    executable = Path(sys.executable).name.lower()
    if not executable.startswith("python"):  # inside Slicer sys.executable is the application
        found = shutil.which("PythonSlicer", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                                  os.environ.get("PATH", "")]))
        if found:
            return found
    return sys.executable


@dataclass
class StudyResults:
    """Nodes a study put into the scene (filled in step by step as the commands finish)."""

    volume_nodes: dict = field(default_factory=dict)          # dose -> vtkMRMLScalarVolumeNode (1.0 = reference)
    segmentation_nodes: dict = field(default_factory=dict)    # dose -> vtkMRMLSegmentationNode
    disagreement_nodes: dict = field(default_factory=dict)    # dose -> vtkMRMLSegmentationNode (red/blue/green)
    metrics_rows: list = field(default_factory=list)
    table_node: object = None                                 # vtkMRMLTableNode, one row per dose x label
    chart_node: object = None                                 # vtkMRMLPlotChartNode, Dice vs dose per label
    report_path: Optional[Path] = None                        # report.html of lowdose report


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
class Study(BackgroundJob):
    """A running or finished study: its settings, files, runner and results."""

    settings: StudySettings
    paths: StudyPaths
    plan: list
    runner: ProcessRunner
    has_ground_truth: bool
    input_name: str
    results: StudyResults = field(default_factory=StudyResults)
    load_errors: list = field(default_factory=list)

    def wait_for_completion(self, timeout: Optional[float] = None) -> "Study":
        """Block until done; raises the failed step's error, or :class:`InputError` if results did not load."""
        super().wait_for_completion(timeout)
        if self.load_errors:
            raise InputError("; ".join(self.load_errors))
        return self


class StudyLogic:
    """Runs studies on nodes of ``scene``; everything that needs the Slicer application is passed in.

    python: interpreter for the ``lowdose`` commands (default :func:`default_python`).
    cli_module: the module whose ``main()`` is the ``lowdose`` CLI (tests pass a stand-in).
    """

    window_level = (400.0, 40.0)
    """Soft-tissue window (HU) for every simulated volume, so noise compares fairly across doses."""

    def __init__(self, scene, python: Optional[str] = None, cli_module: str = "LowDoseRobustnessLib.cli",
                 extra_paths: Sequence[str | Path] = ()):
        self.scene = scene
        self.python = python or default_python()
        self.cli_module = cli_module
        self.extra_paths = list(extra_paths)

    # -- files <-> nodes ---------------------------------------------------------------------------
    def export_volume(self, node, path: Path, overwrite: bool = False) -> Path:
        """Write a volume node to a file (LPS, as every other tool expects)."""
        return write_volume(nodes.volume_from_node(node), path, overwrite=overwrite)

    def export_segmentation(self, segmentation_node, reference_volume_node, path: Path,
                            overwrite: bool = False) -> Path:
        """Write a segmentation as a label map on the reference grid, with its names sidecar."""
        labels, names = nodes.labels_from_segmentation(segmentation_node, reference_volume_node)
        write_volume(labels, path, overwrite=overwrite)
        write_label_names(path, names, overwrite=overwrite)
        return path

    def load_volume(self, path: Path, name: str):
        return nodes.add_volume_node(self.scene, read_volume(path), name, window_level=self.window_level)

    def load_segmentation(self, path: Path, name: str, reference_volume_node=None):
        """A label-map file (+ sidecar names) as a segmentation node."""
        return nodes.segmentation_from_labels(self.scene, read_volume(path), read_label_names(path), name,
                                              reference_volume_node=reference_volume_node)

    # -- the study --------------------------------------------------------------------------------
    def run_study(self, input_node, doses: Sequence[float] = (0.2, 0.4, 0.6, 0.8), model: str = "builtin",
                  ground_truth=None, output_folder: Optional[str | Path] = None, seed: int = 0,
                  incident_flux: float = 1.0e5, geometry: str = "clinical", backend: str = "auto",
                  reconstruction: str = "fbp", steps: Sequence[str] = DEFAULT_STEPS,
                  overwrite: bool = False, wait_for_completion: bool = False,
                  callbacks: Optional[RunnerCallbacks] = None, load_results: bool = True) -> Study:
        """Simulate ``doses`` of ``input_node``, segment each with ``model``, compare with the reference.

        ground_truth: a segmentation node to compare against (else the model's 100 % segmentation).
        steps: some of simulate, segment, compare, report (``lowdose report``: HTML in ``report/``).
        overwrite: replace existing files in ``output_folder``; when False and any exist, raises
        :class:`FileExistsError` listing them (the GUI asks, then calls again with True).
        callbacks: progress/log/finished callbacks, called from ``study.runner.poll()``.
        Raises :class:`InputError` for bad input; with ``wait_for_completion`` also the step's
        :class:`ProcessError` (the CLI's message) or :class:`Cancelled`.
        """
        if input_node is None:
            raise InputError("choose an input CT volume")
        settings = StudySettings(tuple(doses), model, int(seed), float(incident_flux), geometry, backend,
                                 reconstruction, tuple(steps))
        folder = Path(output_folder) if output_folder else Path(tempfile.mkdtemp(prefix="LowDoseRobustness-"))
        paths = StudyPaths(folder.resolve())
        has_ground_truth = ground_truth is not None
        plan = plan_study(settings, paths, has_ground_truth, overwrite, case=input_node.GetName())
        exported = ([paths.input] if "simulate" in settings.steps else []) + (
            [paths.ground_truth] if has_ground_truth else [])
        if not overwrite:
            existing = existing_outputs(plan, exported)
            if existing:
                shown = ", ".join(str(p) for p in existing[:3]) + (" ..." if len(existing) > 3 else "")
                raise FileExistsError(f"{len(existing)} result file(s) already exist in {folder} ({shown}); "
                                      "choose another output folder or allow overwriting")
        for planned in plan:  # a CLI may expect its output folder to exist
            for output in planned.outputs:
                output.parent.mkdir(parents=True, exist_ok=True)
        if "simulate" in settings.steps:
            self.export_volume(input_node, paths.input, overwrite=True)
        if has_ground_truth:
            self.export_segmentation(ground_truth, input_node, paths.ground_truth, overwrite=True)
        study = Study(settings, paths, plan, None, has_ground_truth, input_node.GetName())
        study.runner = ProcessRunner([self._runner_step(s) for s in plan],
                                     self._loading_callbacks(study, callbacks or RunnerCallbacks(), load_results))
        study.runner.start()
        if wait_for_completion:
            study.wait_for_completion()
        return study

    def _runner_step(self, planned: PlannedStep) -> Step:
        command = lowdose_command(planned.arguments, self.python, self.extra_paths, self.cli_module)
        return Step(planned.label, command, planned.weight, planned.tag)

    def _loading_callbacks(self, study: Study, user: RunnerCallbacks, load_results: bool) -> RunnerCallbacks:
        """Wrap the caller's callbacks so each finished step's files are loaded before the caller hears of it."""

        def load(what: str, function, *arguments):
            try:
                function(*arguments)
            except Exception as error:  # a result file the scene cannot take must not stop the job or the GUI
                message = f"could not load the results of {what}: {error}"
                study.load_errors.append(message)
                if user.on_log:
                    user.on_log(message)

        def step_done(step: Step):
            if load_results:
                load(step.label, self.load_step_results, study, step.tag)
            if user.on_step_done:
                user.on_step_done(step)

        def finished(error):
            if error is None and load_results and "compare" in study.settings.steps:
                load("the comparison", self.load_metrics, study)
            if error is None and study.load_errors:
                error = InputError("; ".join(study.load_errors))
            if user.on_finished:
                user.on_finished(error)

        return RunnerCallbacks(user.on_progress, user.on_log, step_done, finished)

    def load_step_results(self, study: Study, tag: tuple) -> None:
        """Put the files a step wrote into the scene."""
        results, paths = study.results, study.paths
        if tag and tag[0] == "simulate":
            for dose in (*study.settings.doses, REFERENCE_DOSE):
                results.volume_nodes[dose] = self.load_volume(paths.simulated(dose),
                                                              f"{study.input_name} {dose:.0%} dose")
        elif tag and tag[0] == "segment":
            dose = tag[1]
            results.segmentation_nodes[dose] = self.load_segmentation(
                paths.segmentation(dose), f"{study.input_name} {dose:.0%} dose segmentation",
                results.volume_nodes.get(dose))
        elif tag and tag[0] == "report":
            results.report_path = paths.report if paths.report.exists() else None
        elif tag and tag[0] == "compare":
            dose = tag[1]
            results.metrics_rows += read_metrics_csv(paths.metrics(dose), dose)
            reference = read_volume(paths.reference_segmentation(study.has_ground_truth)).array
            test = read_volume(paths.segmentation(dose)).array
            classes = read_volume(paths.disagreement(dose))
            same_grid = reference.shape == test.shape == classes.array.shape
            node = nodes.disagreement_segmentation(
                self.scene, classes, f"{study.input_name} {dose:.0%} dose disagreement",
                agree_mask=(reference == test) & (reference > 0) if same_grid else None,
                reference_volume_node=results.volume_nodes.get(dose))
            results.disagreement_nodes[dose] = node

    def load_metrics(self, study: Study) -> None:
        """The metrics table (one row per dose x label) and the Dice-vs-dose plot."""
        results = study.results
        if not results.metrics_rows:
            return
        results.table_node = nodes.table_node_from_rows(self.scene, results.metrics_rows,
                                                        f"{study.input_name} dose robustness metrics",
                                                        table_node=results.table_node)
        results.chart_node, _, _ = nodes.dice_plot(self.scene, results.metrics_rows,
                                                   f"{study.input_name} Dice vs dose")
        # Show only the lowest dose's disagreement map; the per-dose segmentations stay in the scene, hidden.
        lowest = min(results.disagreement_nodes, default=None)
        shown = {id(node): dose == lowest for dose, node in results.disagreement_nodes.items()}
        shown.update({id(node): False for node in results.segmentation_nodes.values()})
        for node in [*results.disagreement_nodes.values(), *results.segmentation_nodes.values()]:
            display = node.GetDisplayNode()
            if display is not None:
                display.SetVisibility(shown[id(node)])

    def load_study_folder(self, folder: str | Path, doses: Sequence[float], input_name: str = "study",
                          has_ground_truth: bool = False) -> Study:
        """Load an existing study folder (e.g. one computed in batch mode) without running anything."""
        settings = StudySettings(tuple(doses))
        paths = StudyPaths(Path(folder).resolve())
        study = Study(settings, paths, plan_study(settings, paths, has_ground_truth), None, has_ground_truth,
                      input_name)
        self.load_step_results(study, ("simulate",))
        for dose in (*settings.doses, REFERENCE_DOSE):
            if paths.segmentation(dose).exists():
                self.load_step_results(study, ("segment", dose))
        for dose in compared_doses(settings, has_ground_truth):
            if paths.metrics(dose).exists():
                self.load_step_results(study, ("compare", dose))
        self.load_metrics(study)
        return study


def agreement_summary(rows: Sequence[dict]) -> str:
    """One line per dose: mean Dice over structures (for logs and the GUI status line)."""
    by_dose: dict[float, list[float]] = {}
    for row in rows:
        value = row.get("dice")
        try:
            by_dose.setdefault(float(row["dose_percent"]), []).append(float(value))
        except (TypeError, ValueError):
            continue
    return "\n".join(f"{dose:g} % dose: mean Dice {np.nanmean(values):.3f} over {len(values)} structures"
                     for dose, values in sorted(by_dose.items()))

