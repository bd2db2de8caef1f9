"""SyntheticCT logic: export labels from the scene, run ``lowdose synth`` in the background, load a case.

Usable without Qt (tests use slicer-core) and from the Slicer Python console::

    logic = SynthLogic(slicer.mrmlScene)   # in Slicer: slicer.util.getModuleLogic("SyntheticCT")
    job = logic.generate(getNode("labels"), strategy="texture", count=4, output_folder="/tmp/synth",
                         wait_for_completion=True)
    job.results.volume_node, job.results.segmentation_node
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from LowDoseRobustnessLib.cli.process_runner import ProcessRunner, RunnerCallbacks, Step, lowdose_command
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.atomic import atomic_write_text
from LowDoseRobustnessLib.io.labels import read_label_names, write_label_names
from LowDoseRobustnessLib.io.volumes import read_volume, write_volume
from LowDoseRobustnessSlicer import nodes
from LowDoseRobustnessSlicer.logic import BackgroundJob, default_python

from SyntheticCTLib.contract import STRATEGIES
from SyntheticCTLib.hu_statistics import TissueChoice, assign_tissues, read_hu_statistics

MODULE_FOLDER = Path(__file__).resolve().parents[1]
"""The folder holding ``SyntheticCTLib``: put on the ``lowdose`` command's path, beside the Lib's own."""
CLI_MODULE = "SyntheticCTLib.cli"
"""``lowdose`` with SyntheticCT's sub-commands added."""


def first_case(dataset_folder: Path) -> tuple[Path, Path]:
    """(image, label map) of the first case of an nnU-Net raw dataset (``imagesTr/<case>_0000.nii.gz``)."""
    images = sorted((dataset_folder / "imagesTr").glob("*_0000.nii.gz"))
    if not images:
        raise InputError(f"no synthetic images found in {dataset_folder / 'imagesTr'}")
    case = images[0].name[: -len("_0000.nii.gz")]
    return images[0], dataset_folder / "labelsTr" / f"{case}.nii.gz"


def dataset_label_names(dataset_folder: Path, label_path: Path) -> dict[int, str]:
    """Label names from the label map's sidecar, else from dataset.json ``labels`` (name -> value)."""
    names = read_label_names(label_path)
    dataset_json = dataset_folder / "dataset.json"
    if not names and dataset_json.exists():
        labels = json.loads(dataset_json.read_text()).get("labels", {})
        names = {int(value): str(name) for name, value in labels.items() if int(value) != 0}
    return names


@dataclass
class SynthResults:
    volume_node: object = None          # the first synthetic CT
    segmentation_node: object = None    # its labels, named


@dataclass
class SynthJob(BackgroundJob):
    """A running or finished ``lowdose synth``: its folder, runner and the nodes it loaded."""

    folder: Path
    runner: ProcessRunner
    results: SynthResults = field(default_factory=SynthResults)
    load_error: Optional[Exception] = None

    def wait_for_completion(self, timeout: Optional[float] = None) -> "SynthJob":
        super().wait_for_completion(timeout)
        if self.load_error is not None:
            raise self.load_error
        return self


class SynthLogic:
    """Runs ``lowdose synth`` on a label map or segmentation node of ``scene``."""

    def __init__(self, scene, python: Optional[str] = None):
        self.scene = scene
        self.python = python or default_python()

    @staticmethod
    def tissue_choices(labels_node, chosen: Optional[Mapping[str, str]] = None) -> list[TissueChoice]:
        """Which HU statistics fill each label of ``labels_node`` (a segmentation or label map), as ``synth``
        will choose them; ``chosen``: the user's choices, label name -> tissue (:func:`assign_tissues`)."""
        if labels_node is None:
            return []
        return list(assign_tissues(nodes.label_names(labels_node), read_hu_statistics(), chosen).values())

    @staticmethod
    def tissue_names() -> list[str]:
        """The tissues a label can be filled as (the statistics table's names)."""
        return sorted(read_hu_statistics().tissues)

    def synth_arguments(self, labels_path: Path, output: Path, strategy: str, count: int, seed: int,
                        add_noise: bool, dose: float, incident_flux: float, geometry: str,
                        ct_path: Optional[Path], overwrite: bool, tissues_path: Optional[Path] = None) -> list[str]:
        """``lowdose synth`` arguments. The dose scales the photon count: I0 at dose d is d * I0 (full dose)."""
        if strategy not in STRATEGIES:
            raise InputError(f"unknown strategy {strategy!r}; choose {', '.join(STRATEGIES)}")
        if int(count) < 1:
            raise InputError("generate at least one synthetic case")
        if add_noise and not 0.0 < dose <= 1.0:
            raise InputError(f"dose must be a fraction in (0, 1], got {dose}")
        arguments = ["synth", str(labels_path), "--strategy", strategy, "--count", str(int(count)),
                     "--seed", str(int(seed)), "-o", str(output), "--geometry", geometry]
        if add_noise:
            arguments += ["--incident-flux", f"{incident_flux * dose:g}"]
        else:
            arguments.append("--no-noise")
        if ct_path is not None:
            arguments += ["--ct", str(ct_path)]
        if tissues_path is not None:
            arguments += ["--tissues", str(tissues_path)]
        return arguments + (["--overwrite"] if overwrite else [])

    def generate(self, labels_node, ct_node=None, strategy: str = "texture", count: int = 1, seed: int = 0,
                 add_noise: bool = True, dose: float = 1.0, incident_flux: float = 1.0e5, geometry: str = "fast",
                 output_folder=None, tissues: Optional[Mapping[str, str]] = None, overwrite: bool = False,
                 wait_for_completion: bool = False, callbacks: Optional[RunnerCallbacks] = None,
                 load_results: bool = True) -> SynthJob:
        """Synthetic CTs from ``labels_node`` (label map or segmentation); loads the first case when done.

        ct_node: the CT the labels were drawn on (optional; splits unlabelled tissue as in the paper).
        add_noise/dose/incident_flux/geometry: scan the synthetic volume through the CT simulator at this dose.
        tissues: label (segment) name -> tissue of the statistics table, for labels whose names the
        table lacks (see :meth:`tissue_choices`); the others are chosen by ``synth`` itself.
        Raises :class:`FileExistsError` when the output folder already holds a dataset and not ``overwrite``.
        """
        if labels_node is None:
            raise InputError("choose a label map or segmentation to synthesise from")
        folder = Path(output_folder) if output_folder else Path(tempfile.mkdtemp(prefix="SyntheticCT-"))
        folder = folder.resolve()
        dataset = folder / "dataset"
        if (dataset / "dataset.json").exists() and not overwrite:
            raise FileExistsError(f"{dataset} already holds a synthetic dataset; choose another output folder "
                                  "or allow overwriting")
        labels, names = nodes.labels_from_node(labels_node, ct_node)
        labels_path = write_volume(labels, folder / "labels.nii.gz", overwrite=True)
        write_label_names(labels_path, names, overwrite=True)
        ct_path = write_volume(nodes.volume_from_node(ct_node), folder / "ct.nii.gz", overwrite=True) if ct_node else None
        tissues_path = atomic_write_text(folder / "tissues.json", json.dumps(dict(tissues), indent=1),
                                         overwrite=True) if tissues else None
        arguments = self.synth_arguments(labels_path, dataset, strategy, count, seed, add_noise, dose, incident_flux,
                                         geometry, ct_path, overwrite, tissues_path)
        job = SynthJob(folder, None)
        user = callbacks or RunnerCallbacks()

        def finished(error):
            if error is None and load_results:
                try:
                    self.load_first_case(job)
                except Exception as load_error:  # reported like a failed step, never raised into the GUI timer
                    error = job.load_error = InputError(f"could not load the synthetic case: {load_error}")
            if user.on_finished:
                user.on_finished(error)

        command = lowdose_command(arguments, self.python, [MODULE_FOLDER], CLI_MODULE)
        job.runner = ProcessRunner([Step("synthesise", command, 1.0, ("synth",))],
                                   RunnerCallbacks(user.on_progress, user.on_log, user.on_step_done, finished))
        job.runner.start()
        if wait_for_completion:
            job.wait_for_completion()
        return job

    def load_first_case(self, job: SynthJob) -> SynthResults:
        dataset = job.folder / "dataset"
        image_path, label_path = first_case(dataset)
        volume = nodes.add_volume_node(self.scene, read_volume(image_path), f"synthetic CT {image_path.name[:-12]}")
        job.results.volume_node = volume
        if label_path.exists():
            job.results.segmentation_node = nodes.segmentation_from_labels(
                self.scene, read_volume(label_path), dataset_label_names(dataset, label_path),
                f"synthetic CT {image_path.name[:-12]} labels", reference_volume_node=volume)
        return job.results
