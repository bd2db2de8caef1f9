"""A dose-robustness study as ``lowdose`` commands and files (pure Python: no slicer, no Qt).

Layout of a study folder::

    input.nii.gz                      the input volume, exported from the scene
    ground_truth.nii.gz (+ .labels.json)   optional reference segmentation
    simulated/dose_020.nii.gz ...     lowdose simulate (dose_100 = the 100 % reference)
    segmentations/dose_020.nii.gz     lowdose segment (+ dose_020.labels.json)
    metrics/dose_020.csv              lowdose compare REFERENCE TEST
    metrics/disagreement_020.nii.gz   0 agree/background, 1 missed, 2 added at low dose
    report/report.html                lowdose report metrics/ (optional step)

The reference segmentation is the ground truth when one is given, else the model's
segmentation of the 100 % reconstruction (same reproject/reconstruct chain as the low doses).
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from LowDoseRobustnessLib.errors import InputError

REFERENCE_DOSE = 1.0
STEPS = ("simulate", "segment", "compare", "report")
DEFAULT_STEPS = STEPS[:3]
MODEL_EXAMPLES = ("builtin", "totalsegmentator", "totalsegmentator:total", "nnunet:/path/to/model_folder",
                  "monai:/path/to/config")


def dose_tag(dose: float) -> str:
    """0.2 -> ``dose_020`` (the file stem ``lowdose simulate`` uses)."""
    return f"dose_{round(dose * 100):03d}"


def parse_doses(text: str, percent: bool = False) -> tuple[float, ...]:
    """``"20, 40 60%"`` or ``"0.2,0.4"`` -> (0.2, 0.4, 0.6): percentages when a value is above 1 or ``percent``."""
    values = []
    for part in text.replace("%", " ").replace(",", " ").replace(";", " ").split():
        try:
            value = float(part)
        except ValueError:
            raise InputError(f"dose {part!r} is not a number; give fractions (0.2) or percentages (20)") from None
        values.append(value / 100.0 if percent or value > 1.0 else value)
    return tuple(values)


def selected_doses(checked_percent: dict[int, bool], other_percent: str = "") -> tuple[float, ...]:
    """Dose fractions from GUI switches ``{20: True, 40: False}`` plus free text such as ``"5, 10"`` (percent)."""
    doses = {percent / 100.0 for percent, on in checked_percent.items() if on}
    doses |= set(parse_doses(other_percent or "", percent=True))
    return tuple(sorted(doses))


@dataclass(frozen=True)
class StudySettings:
    """What a study simulates, how it segments, and which steps it runs."""

    doses: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)
    model: str = "builtin"
    seed: int = 0
    incident_flux: float = 1.0e5
    geometry: str = "clinical"
    backend: str = "auto"
    reconstruction: str = "fbp"
    steps: tuple[str, ...] = DEFAULT_STEPS

    def __post_init__(self):
        doses = tuple(sorted({round(float(d), 6) for d in self.doses}))
        if not doses:
            raise InputError("choose at least one dose level")
        bad = [d for d in doses if not 0.0 < d < 1.0]
        if bad:
            raise InputError(f"dose fractions must lie between 0 and 1 (exclusive; 100 % is always simulated), got {bad}")
        unknown = [s for s in self.steps if s not in STEPS]
        if unknown or not self.steps:
            raise InputError(f"steps must be some of {', '.join(STEPS)}; got {list(self.steps)}")
        if not (math.isfinite(self.incident_flux) and self.incident_flux > 0):
            raise InputError(f"incident flux must be a positive number of photons, got {self.incident_flux}")
        if not str(self.model).strip():
            raise InputError("choose a segmentation model (builtin, totalsegmentator[:TASK], nnunet:PATH, monai:CONFIG)")
        object.__setattr__(self, "doses", doses)
        object.__setattr__(self, "steps", tuple(s for s in STEPS if s in self.steps))


@dataclass(frozen=True)
class StudyPaths:
    """Where each file of a study lives (see the module docstring)."""

    folder: Path

    @property
    def input(self) -> Path:
        return self.folder / "input.nii.gz"

    @property
    def ground_truth(self) -> Path:
        return self.folder / "ground_truth.nii.gz"

    @property
    def simulated_folder(self) -> Path:
        return self.folder / "simulated"

    def simulated(self, dose: float) -> Path:
        return self.simulated_folder / f"{dose_tag(dose)}.nii.gz"

    def segmentation(self, dose: float) -> Path:
        return self.folder / "segmentations" / f"{dose_tag(dose)}.nii.gz"

    def metrics(self, dose: float) -> Path:
        return self.metrics_folder / f"{dose_tag(dose)}.csv"

    def disagreement(self, dose: float) -> Path:
        return self.metrics_folder / f"disagreement_{dose_tag(dose)[5:]}.nii.gz"

    @property
    def metrics_folder(self) -> Path:
        return self.folder / "metrics"

    @property
    def report(self) -> Path:
        return self.folder / "report" / "report.html"

    def reference_segmentation(self, has_ground_truth: bool) -> Path:
        return self.ground_truth if has_ground_truth else self.segmentation(REFERENCE_DOSE)


def compared_doses(settings: StudySettings, has_ground_truth: bool) -> tuple[float, ...]:
    """Doses whose segmentation is compared with the reference (100 % too, against a ground truth)."""
    return settings.doses + ((REFERENCE_DOSE,) if has_ground_truth else ())


@dataclass
class PlannedStep:
    """One ``lowdose`` invocation: arguments after ``lowdose``, what it writes, its share of the work."""

    label: str
    arguments: list[str]
    outputs: list[Path]
    weight: float = 1.0
    tag: tuple = field(default_factory=tuple)


def plan_study(settings: StudySettings, paths: StudyPaths, has_ground_truth: bool,
               overwrite: bool = False, case: str = "") -> list[PlannedStep]:
    """The ``lowdose`` commands of a study, in order; ``case`` names the input in the metrics tables."""
    all_doses = (*settings.doses, REFERENCE_DOSE)
    overwrite_flag = ["--overwrite"] if overwrite else []
    plan = []
    if "simulate" in settings.steps:
        arguments = ["simulate", str(paths.input)]
        for dose in settings.doses:
            arguments += ["--dose", f"{dose:g}"]
        arguments += ["-o", str(paths.simulated_folder), "--reference", str(paths.simulated(REFERENCE_DOSE)),
                      "--seed", str(int(settings.seed)), "--incident-flux", f"{settings.incident_flux:g}",
                      "--geometry", settings.geometry, "--backend", settings.backend,
                      "--recon", settings.reconstruction, *overwrite_flag]
        plan.append(PlannedStep("simulate", arguments, [paths.simulated(d) for d in all_doses],
                                weight=1.0 + len(all_doses), tag=("simulate",)))
    if "segment" in settings.steps:
        for dose in sorted(all_doses):
            plan.append(PlannedStep(
                f"segment {dose:.0%}", ["segment", str(paths.simulated(dose)), "--model", settings.model,
                                        "-o", str(paths.segmentation(dose)), *overwrite_flag],
                [paths.segmentation(dose)], weight=1.0, tag=("segment", dose)))
    if "compare" in settings.steps:
        reference = paths.reference_segmentation(has_ground_truth)
        for dose in compared_doses(settings, has_ground_truth):
            plan.append(PlannedStep(
                f"compare {dose:.0%}", ["compare", str(reference), str(paths.segmentation(dose)),
                                        "-o", str(paths.metrics(dose)), "--disagreement", str(paths.disagreement(dose)),
                                        "--case", case, "--dose", f"{dose:g}", "--model", settings.model,
                                        "--reconstruction", settings.reconstruction,
                                        "--reference-kind", "ground_truth" if has_ground_truth else "full_dose",
                                        *overwrite_flag],
                [paths.metrics(dose), paths.disagreement(dose)], weight=0.3, tag=("compare", dose)))
    if "report" in settings.steps:
        plan.append(PlannedStep("report", ["report", str(paths.metrics_folder), "-o", str(paths.report.parent),
                                           *overwrite_flag], [paths.report], weight=0.5, tag=("report",)))
    return plan


def existing_outputs(plan: Sequence[PlannedStep], exported: Sequence[Path] = ()) -> list[Path]:
    """Files the study would replace (asked about before anything is overwritten)."""
    return [p for p in [*exported, *(o for step in plan for o in step.outputs)] if p.exists()]


def read_metrics_csv(path: str | Path, dose: float) -> list[dict]:
    """Rows of a ``lowdose compare`` CSV, each with ``dose_percent`` added."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"metrics file not found: {path}")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    missing = {"label", "dice"} - set(rows[0] if rows else {"label": 0, "dice": 0})
    if missing:
        raise InputError(f"{path} lacks the column(s) {', '.join(sorted(missing))}; is it a lowdose compare output?")
    return [{"dose_percent": round(dose * 100, 4), **row} for row in rows]
