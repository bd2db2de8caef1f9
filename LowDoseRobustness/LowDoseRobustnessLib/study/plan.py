"""What a study computes: its settings, the requested cells, and the task graph with every artifact's key.

The graph, per case and reconstruction::

    simulate (realization r: its doses; r = 0 also the 100 % reference)
      -> segment (each model, each volume)
        -> compare with the full-dose mask (realization 0) of the same case/reconstruction/model
        -> compare with the ground truth (when the case has one)

Noise seeds are derived from the study seed, the case and the realization
(:func:`noise_seed`); the simulator draws each dose from its own stream of that seed, so a
volume does not depend on which other doses are simulated with it, on the executor, or
on the order of the tasks.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field, fields

from LowDoseRobustnessLib.contract import (BACKEND_CHOICES, DEFAULT_DOSES, DEFAULT_FAILURE_DICE,
                                           GEOMETRIES, INCIDENT_FLUX_AUTO, NOISE_MODES, PEAK_MEMORY_BYTES_PER_VOXEL,
                                           RECONSTRUCTIONS, REFERENCE_DOSE, StudyLayout, valid_incident_flux)
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.study.artifacts import Artifact
from LowDoseRobustnessLib.study.cases import Case
from LowDoseRobustnessLib.study.identity import FileHashes, model_identity, recipe_key, reconstruction_identity
from LowDoseRobustnessLib.study.tasks import COMPARE, SEGMENT, SIMULATE, Task

GPU_BACKENDS = ("tigre",)
HEAVY_MODELS = ("totalsegmentator", "nnunet", "monai")
DEFAULT_GRID = (300, 512, 512)
"""Assumed grid for memory estimates when an input's header cannot be read."""
IMAGE_NOISE_MODEL = -1
"""The realization index whose :func:`noise_seed` seeds a case's image-noise model (no draw has it)."""


@dataclass(frozen=True)
class StudySettings:
    """The acquisition every scan of the study shares: kept in ``study.json``; changing it needs ``--overwrite``."""

    geometry: str = "clinical"
    backend: str = "auto"
    incident_flux: float | str = INCIDENT_FLUX_AUTO
    """I0 of every case, or ``auto``: each case's I0 fitted to its own noise (:data:`..contract.INCIDENT_FLUX_AUTO`)."""
    electronic_noise_sd: float = 0.0
    noise: str = "projection"
    seed: int = 0
    fix_nonfinite: bool = False
    """Replace NaN/infinite voxels of the inputs by air instead of refusing them (:mod:`..io.validation`)."""

    def __post_init__(self):
        if self.geometry not in GEOMETRIES:
            raise InputError(f"unknown geometry {self.geometry!r}; choose one of {', '.join(GEOMETRIES)}")
        if self.backend not in BACKEND_CHOICES:
            raise InputError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKEND_CHOICES)}")
        if self.noise not in NOISE_MODES:
            raise InputError(f"unknown noise mode {self.noise!r}; choose one of {', '.join(NOISE_MODES)}")
        if not valid_incident_flux(self.incident_flux):
            raise InputError(f"the incident flux must be {INCIDENT_FLUX_AUTO!r} or a positive number of photons, "
                             f"got {self.incident_flux!r}")
        if not (math.isfinite(self.electronic_noise_sd) and self.electronic_noise_sd >= 0):
            raise InputError(f"the electronic noise must be >= 0 counts, got {self.electronic_noise_sd}")
        if self.seed < 0:
            raise InputError(f"the seed must be >= 0, got {self.seed}")

    def as_dict(self) -> dict:
        return asdict(self)

    def changes_from(self, recorded: dict) -> list[str]:
        """``name: recorded -> now`` for every setting that differs from ``recorded`` (a study.json entry)."""
        return [f"{f.name}: {recorded[f.name]!r} -> {getattr(self, f.name)!r}" for f in fields(self)
                if f.name in recorded and recorded[f.name] != getattr(self, f.name)]

    def simulation(self, reconstruction: str, options: dict) -> dict:
        """The simulator's settings (``SimulationSettings`` fields) for one reconstruction."""
        return dict(geometry=self.geometry, backend=self.backend, incident_flux=self.incident_flux,
                    electronic_noise_sd=float(self.electronic_noise_sd), noise=self.noise,
                    reconstruction=reconstruction, reconstruction_options=dict(options))


@dataclass(frozen=True)
class StudyRequest:
    """The cells of one run: cases x doses x reconstructions x models x realizations."""

    cases: tuple[Case, ...]
    doses: tuple[float, ...] = DEFAULT_DOSES
    reconstructions: tuple[str, ...] = ("fbp",)
    models: tuple[str, ...] = ("builtin",)
    realizations: int = 1
    failure_dice: float = DEFAULT_FAILURE_DICE
    reconstruction_options: dict = field(default_factory=dict)
    """reconstruction -> its options (e.g. ``{"fbp": {"filter_name": "hann"}}``)."""
    segmenter_options: dict = field(default_factory=dict)
    """Options for every segmenter that takes them (e.g. ``{"device": "cuda"}``)."""

    def __post_init__(self):
        object.__setattr__(self, "cases", tuple(self.cases))
        doses = sorted({round(float(d), 6) for d in self.doses} - {REFERENCE_DOSE}, reverse=True)
        bad = [d for d in doses if not 0.0 < d < 1.0]
        if bad or not doses:
            raise InputError(f"dose fractions must lie in (0, 1), e.g. 0.2 for 20 %; got {list(self.doses)} "
                             "(the 100 % reference is always simulated)")
        object.__setattr__(self, "doses", tuple(doses))
        unknown = [r for r in self.reconstructions if r not in RECONSTRUCTIONS]
        if unknown or not self.reconstructions:
            raise InputError(f"unknown reconstruction {', '.join(unknown) or '(none)'}; "
                             f"choose from {', '.join(RECONSTRUCTIONS)}")
        object.__setattr__(self, "reconstructions", tuple(dict.fromkeys(self.reconstructions)))
        object.__setattr__(self, "models", tuple(dict.fromkeys(self.models)))
        if not self.models:
            raise InputError("choose at least one segmentation model")
        if int(self.realizations) < 1:
            raise InputError(f"--realizations must be at least 1, got {self.realizations}")
        if not 0.0 <= self.failure_dice <= 1.0:
            raise InputError(f"--failure-dice must lie in [0, 1], got {self.failure_dice}")

    def grid(self) -> dict:
        """The request as plain data (for study.json)."""
        return {"cases": [c.name for c in self.cases], "doses": list(self.doses),
                "reconstructions": list(self.reconstructions), "models": list(self.models),
                "realizations": int(self.realizations), "failure_dice": self.failure_dice}


def noise_seed(seed: int, case: str, realization: int) -> int:
    """A 63-bit seed for one case and noise realization, derived from the study seed (SHA-256)."""
    digest = hashlib.sha256(f"{int(seed)}/{case}/{int(realization)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def plan_study(request: StudyRequest, settings: StudySettings, layout: StudyLayout, inputs: dict,
               hashes: FileHashes, overwrite: bool = False) -> list[Task]:
    """The task graph of ``request``, in an order that keeps each case's work together.

    ``inputs``: case name -> ``{"ct_sha256": content hash, "ground_truth_sha256": content hash or None}``.
    """
    planner = _Planner(request, settings, layout, hashes, overwrite)
    return [task for case in request.cases for task in planner.case_tasks(case, inputs[case.name])]


class _Planner:
    def __init__(self, request, settings, layout, hashes, overwrite):
        self.request, self.settings, self.layout, self.hashes = request, settings, layout, hashes
        self.overwrite = overwrite
        self.models = {m: (model_identity(m, hashes), _segmenter_options(m, request.segmenter_options))
                       for m in request.models}

    def case_tasks(self, case: Case, identity: dict) -> list[Task]:
        voxels, projections, matrix = _sizes(case, self.settings)
        tasks = []
        for reconstruction in self.request.reconstructions:
            options = self.request.reconstruction_options.get(reconstruction, {})
            simulation = self.settings.simulation(reconstruction, options)
            volume_recipe = {"kind": "volume", "input": identity["ct_sha256"], "simulation": simulation,
                             "reconstruction": reconstruction_identity(reconstruction, options, self.hashes)}
            if self.settings.fix_nonfinite:
                volume_recipe["fix_nonfinite"] = True
            volumes = {}  # (dose, realization) -> (artifact, simulate task id)
            for realization in range(self.request.realizations):
                doses = ((REFERENCE_DOSE,) if realization == 0 else ()) + self.request.doses
                seed = noise_seed(self.settings.seed, case.name, realization)
                outputs = tuple(self._artifact(self.layout.volume(case.name, reconstruction, dose, realization),
                                               dict(volume_recipe, dose=dose, realization=realization, seed=seed))
                                for dose in doses)
                task_id = f"simulate {case.name} {reconstruction} r{realization}"
                options = {"simulation": simulation, "seed": seed, "fix_nonfinite": self.settings.fix_nonfinite}
                if self.settings.noise == "image":  # one image-noise model per case, seeded apart from the draws
                    options["model_seed"] = noise_seed(self.settings.seed, case.name, IMAGE_NOISE_MODEL)
                tasks.append(Task(task_id, SIMULATE, case, reconstruction, realization, outputs, options=options,
                                  memory_bytes=_memory(SIMULATE, voxels, projections, matrix, len(doses),
                                                       image_noise=self.settings.noise == "image"),
                                  resources={"GPU": 1} if self.settings.backend in GPU_BACKENDS else {},
                                  overwrite=self.overwrite))
                volumes.update({(a.recipe["dose"], realization): (a, task_id) for a in outputs})
            for model in self.request.models:
                tasks += self._model_tasks(case, identity, reconstruction, model, volumes, voxels)
        return tasks

    def _model_tasks(self, case, identity, reconstruction, model, volumes, voxels) -> list[Task]:
        model_id, options = self.models[model]
        heavy = model.partition(":")[0] in HEAVY_MODELS
        gpu = {"GPU": 1} if str(options.get("device", "cpu")).startswith(("cuda", "gpu")) else {}
        segmentations, tasks = {}, []
        for (dose, realization), (volume, simulate_id) in volumes.items():
            output = self._artifact(self.layout.segmentation(case.name, reconstruction, model, dose, realization),
                                    {"kind": "segmentation", "volume": volume.key, "model": model_id,
                                     "options": options}, labels=True)
            task = Task(f"segment {case.name} {reconstruction} {model} {_cell(dose, realization)}", SEGMENT, case,
                        reconstruction, realization, (output,), (simulate_id,), dose, model, inputs=(volume.path,),
                        options=options, memory_bytes=_memory(SEGMENT, voxels, heavy=heavy), resources=gpu,
                        overwrite=self.overwrite)
            segmentations[dose, realization] = task
            tasks.append(task)
        full_dose = segmentations[REFERENCE_DOSE, 0]
        for (dose, realization), segment in segmentations.items():
            references = [("full_dose", full_dose)] if dose < REFERENCE_DOSE else []
            if case.ground_truth is not None:
                references.append(("ground_truth", None))
            for reference, reference_task in references:
                tasks.append(self._compare(case, identity, reconstruction, model, dose, realization, reference,
                                           reference_task, segment, voxels))
        return tasks

    def _compare(self, case, identity, reconstruction, model, dose, realization, reference, reference_task,
                 segment, voxels) -> Task:
        test = segment.outputs[0]
        if reference_task is None:
            reference_path, reference_key, depends = case.ground_truth, identity["ground_truth_sha256"], (segment.id,)
        else:
            reference_path, reference_key = reference_task.outputs[0].path, reference_task.outputs[0].key
            depends = (reference_task.id, segment.id)
        tags = {"case": case.name, "dose": dose, "reconstruction": reconstruction, "model": model,
                "realization": realization, "reference": reference, "contrast": case.contrast}
        table = self.layout.metrics(case.name, reconstruction, model, dose, realization, reference)
        classes = self.layout.disagreement(case.name, reconstruction, model, dose, realization, reference)
        output = self._artifact(table, {"kind": "comparison", "reference_key": reference_key, "test_key": test.key,
                                        **tags}, companions=(classes, _labels(classes)))
        return Task(f"compare {case.name} {reconstruction} {model} {_cell(dose, realization)} vs {reference}",
                    COMPARE, case, reconstruction, realization, (output,), depends, dose, model, reference,
                    inputs=(reference_path, test.path), options={"contrast": case.contrast},
                    memory_bytes=_memory(COMPARE, voxels), overwrite=self.overwrite)

    @staticmethod
    def _artifact(path, recipe: dict, labels: bool = False, companions: tuple = ()) -> Artifact:
        companions = (*companions, _labels(path)) if labels else companions
        return Artifact(path, recipe_key(recipe), recipe, tuple(companions))


def _labels(path):
    from LowDoseRobustnessLib.io.labels import sidecar_path

    return sidecar_path(path)


def _cell(dose: float, realization: int) -> str:
    return f"{dose:.0%}" + (f" r{realization}" if realization else "")


def _segmenter_options(model: str, options: dict) -> dict:
    """The options of ``options`` that the model's segmenter class takes (e.g. no ``device`` for builtin)."""
    import inspect

    from LowDoseRobustnessLib.segmenters import segmenter_class

    accepted = inspect.signature(segmenter_class(model.partition(":")[0])).parameters
    return {name: value for name, value in sorted(options.items()) if name in accepted and value is not None}


def _sizes(case: Case, settings: StudySettings) -> tuple[int, int, int]:
    """Voxels, projection values and (roughly) system-matrix entries of a case, from its header."""
    shape, spacing = _grid(case)
    geometry = GEOMETRIES.load(settings.geometry)().fitted_to(shape, spacing)
    nz, ny, nx = shape
    projections = geometry.n_views * geometry.detector_columns * geometry.detector_rows * (nz if
                                                                                         geometry.mode == "fan" else 1)
    matrix = geometry.n_views * geometry.detector_columns * max(nx, ny) // 2  # quarter-turn fan + parallel + rebin
    return nz * ny * nx, projections, matrix


def _grid(case: Case) -> tuple[tuple[int, int, int], tuple[float, float, float]]:
    """Shape ``(z, y, x)`` and spacing of the case's CT from its header (a default when unreadable)."""
    import SimpleITK as sitk

    try:
        if case.ct.is_dir():
            files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(case.ct))
            reader = sitk.ImageFileReader()
            reader.SetFileName(files[0])
            reader.ReadImageInformation()
            size, spacing = (*reader.GetSize()[:2], len(files)), reader.GetSpacing()
        else:
            reader = sitk.ImageFileReader()
            reader.SetFileName(str(case.ct))
            reader.ReadImageInformation()
            size, spacing = reader.GetSize(), reader.GetSpacing()
        return (int(size[2]), int(size[1]), int(size[0])), tuple(float(s) for s in spacing[:3])
    except (RuntimeError, IndexError, OSError):
        return DEFAULT_GRID, (0.8, 0.8, 1.0)


def _memory(kind: str, voxels: int, projections: int = 0, matrix: int = 0, doses: int = 1,
            heavy: bool = False, image_noise: bool = False) -> int:
    """Rough peak bytes of one task.

    simulate: line integrals, their variance, noise and a working copy (float32), a volume per
    dose plus working volumes, and the projector's sparse matrices (value + index); for
    512 x 512 x 300 voxels, 720 views and two doses this gives 6.8 GiB, where the README's
    benchmark measured a peak of 6.9 GiB (fitted detector: 1036 columns);
    segment: the network's feature maps (~64 float32 per voxel; nnU-Net, TotalSegmentator and
    MONAI bring ~3 GiB of their own); compare: a few label and distance arrays. With image noise a
    simulation also holds its case's image-noise model (``PEAK_MEMORY_BYTES_PER_VOXEL["image_noise_dose"]``
    per voxel and dose level, the reference included).
    """
    if kind == SIMULATE:
        model = PEAK_MEMORY_BYTES_PER_VOXEL["image_noise_dose"] * (doses + 1) * voxels if image_noise else 0
        return 4 * (4 * projections + (doses + 5) * voxels) + 8 * matrix + model
    if kind == SEGMENT:
        return 256 * voxels + (3 << 30 if heavy else 256 << 20)
    return 48 * voxels
