"""The one contract of the study engine, the ``lowdose`` command line, the Slicer modules and the tests.

Standard library only (no numpy, torch or pandas), so Slicer imports it at start-up and
``lowdose --help`` answers at once. What is named here is defined nowhere else: the
choice lists (catalogues of backends, geometries, reconstructions, denoisers, segmenters
and commands, loaded lazily through :class:`.registry.Registry`), the columns of the
results tables, the disagreement classes with their colours, and the files and folders
of a study (:class:`StudyLayout`).
"""
from __future__ import annotations

import hashlib
import math
import numbers
import re
from dataclasses import dataclass
from pathlib import Path

from LowDoseRobustnessLib.registry import Registry

PACKAGE = "LowDoseRobustnessLib"

# --- progress lines (a command's stderr, read by the Slicer module's background runner) -------------
PROGRESS_LINE = re.compile(r"^\[\s*(\d{1,3})\s*%\]\s?(.*)$")


def progress_line(fraction: float, message: str) -> str:
    """``[ 25%] message``: how every command reports progress on stderr."""
    return f"[{min(max(fraction, 0.0), 1.0):4.0%}] {message}"


def parse_progress(line: str) -> tuple[float, str] | None:
    """``"[ 25%] reconstructed 20% dose"`` -> ``(0.25, "reconstructed 20% dose")``; other lines -> None."""
    match = PROGRESS_LINE.match(line.strip())
    if match is None:
        return None
    return min(100, int(match.group(1))) / 100.0, match.group(2).strip()


# --- files shipped with the module --------------------------------------------------------------
MODULE_RESOURCES = Path(__file__).resolve().parents[1] / "Resources"
MODELS_FOLDER = MODULE_RESOURCES / "Models"
SAMPLE_CT = MODULE_RESOURCES / "SampleData" / "example_ct_sm.nii.gz"
SAMPLE_LABELS = MODULE_RESOURCES / "SampleData" / "example_seg.nii.gz"
"""The bundled 30-slice TotalSegmentator example CT (HU) and its labels (attribution beside them)."""

# --- file formats -------------------------------------------------------------------------------
VOLUME_FORMATS = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")
"""Suffixes of the volume files the commands read and write (DICOM series are read from folders)."""
TABLE_FORMATS = (".csv", ".parquet")
"""Suffixes of results tables."""

# --- memory -------------------------------------------------------------------------------------
PEAK_MEMORY_BYTES_PER_VOXEL = {"simulation": 40, "simulated_dose": 4, "segmentation": 5, "comparison": 7,
                               "synthesis": 48, "statistics": 40, "image_noise_dose": 22}
"""Peak memory of each stage per voxel of its input, beyond the libraries (~0.5 GiB): the slope of peak RSS
between two volume sizes (``Testing/benchmarks/bench_memory.py``, under load: simulation 68.5, each further dose
4.7, segmentation 5.9, comparison 7.7, synthesis 77.9, statistics 40.9; the image-noise model, added to a
simulation with ``--noise image``, 22.0 per dose level it holds, the reference included), rounded down; simulation
and synthesis well below, as their projections grow with the in-plane size rather than the voxel count: a refusal
is certain."""

# --- CT numbers ---------------------------------------------------------------------------------
AIR_HU = -1000.0
"""Air in Hounsfield units, by definition of the scale."""

# --- acquisition defaults -----------------------------------------------------------------------
DEFAULT_INCIDENT_FLUX = 1.0e5
"""I0, photons per detector pixel and view at full dose: the order of a 120 kVp abdominal scan. The trial I0
of the fit below, and the I0 of noise-free inputs (phantoms, synthetic CT)."""
INCIDENT_FLUX_AUTO = "auto"
"""I0 of a reconstructed CT fitted to the noise it holds, so that "dose d" is d times the dose of *that*
scan (the default; :attr:`.simulation.input_noise.InputNoise.fitted_incident_flux`)."""


def valid_incident_flux(value) -> bool:
    """Whether ``value`` is an I0 setting: :data:`INCIDENT_FLUX_AUTO` or a finite positive number of photons."""
    return value == INCIDENT_FLUX_AUTO or (isinstance(value, numbers.Real) and not isinstance(value, bool)
                                           and math.isfinite(value) and value > 0)


DEFAULT_DOSES = (0.2, 0.4, 0.6, 0.8)
REFERENCE_DOSE = 1.0
"""Every study also simulates the full dose through the same chain: the reference of the comparisons."""
DEFAULT_FAILURE_DICE = 0.9
"""A low-dose mask whose Dice against the full-dose mask is below this counts as a failure."""

# --- catalogues (choice lists); members load on first use ---------------------------------------
GEOMETRIES = Registry("geometry preset", {
    "clinical": f"{PACKAGE}.projection.geometry:clinical_geometry",
    "fast": f"{PACKAGE}.projection.geometry:fast_geometry",
})
BACKENDS = Registry("projector backend", {
    "astra": f"{PACKAGE}.projection.astra_fan:AstraFanBeamProjector",
    "mbirjax": f"{PACKAGE}.projection.mbirjax_backend:MbirjaxProjector",
    "tigre": f"{PACKAGE}.projection.tigre_backend:TigreProjector",
})
BACKEND_CHOICES = ("auto", "cpu", *BACKENDS)
"""``auto``: TIGRE when CUDA works, else the CPU backend for the geometry; ``cpu``: the CPU backend."""
RECONSTRUCTIONS = Registry("reconstruction", {
    "fbp": f"{PACKAGE}.reconstruction.fbp:reconstruct_fbp",
    "iterative": f"{PACKAGE}.reconstruction.iterative:reconstruct_iterative",
    "cnn": f"{PACKAGE}.reconstruction.denoised:reconstruct_fbp_cnn",
    "nlm": f"{PACKAGE}.reconstruction.denoised:reconstruct_fbp_nlm",
})
FBP_FILTERS = ("ram-lak", "shepp-logan", "cosine", "hann")
"""Windows of the band-limited ramp, functions of the frequency over the image grid's Nyquist frequency."""
NOISE_MODES = ("projection", "image")
"""How a lower dose's noise is drawn: in the line integrals (the paper's method, default) or in the image
from local noise power spectra learnt from a few projection-domain realizations (fast repeated realizations,
:mod:`.simulation.image_noise`)."""
KERNEL_AUTO = "auto"
KERNELS = (KERNEL_AUTO, *FBP_FILTERS)
"""The reconstruction kernel of the input scan, which the simulated noise takes; ``auto`` fits it to the
input's measured noise power spectrum (ram-lak when the input has no measurable noise)."""
LOW_SIGNAL_CORRECTIONS = ("corrected", "none")
"""Log of the counts: ``corrected`` ln(I0 / (n + 1/2)) as clinical scanners' low-signal correction,
``none`` the raw ln(I0 / n) of an uncorrected detector (counts floored at 1/2)."""
INPUT_NOISE_MODELS = ("measured", "none")
"""The noise a reconstructed-CT input already holds: ``measured`` from its slice differences, ``none``
for noise-free inputs (phantoms, synthetic CT), which then get the whole noise of each dose."""
THINNING_METHODS = ("zabic", "binomial")
DENOISERS = Registry("denoiser", {
    "cnn": f"{PACKAGE}.reconstruction.denoisers.redcnn:RedCnnDenoiser",
    "nlm": f"{PACKAGE}.reconstruction.denoisers.nlm:NonLocalMeansDenoiser",
})
ITERATIVE_ALGORITHMS = Registry("iterative algorithm", {
    "pwls": f"{PACKAGE}.reconstruction.pwls:reconstruct_pwls",
    "mbir": f"{PACKAGE}.reconstruction.mbir:reconstruct_mbir",
    "asd-pocs": f"{PACKAGE}.reconstruction.asd_pocs:reconstruct_asd_pocs",
})
"""Algorithms of ``--recon iterative``; each runs on every backend, through the backend's own solver if it has one."""
SEGMENTERS = Registry("segmenter", {
    "builtin": f"{PACKAGE}.segmenters.builtin:BuiltinSegmenter",
    "totalsegmentator": f"{PACKAGE}.segmenters.totalsegmentator:TotalSegmentatorSegmenter",
    "nnunet": f"{PACKAGE}.segmenters.nnunet:NnUNetSegmenter",
    "monai": f"{PACKAGE}.segmenters.monai:MonaiSegmenter",
})
SEGMENTER_ARGUMENTS = {"builtin": "[CHECKPOINT]", "totalsegmentator": "[TASK, e.g. total_fast]",
                       "nnunet": "MODEL_FOLDER", "monai": "CONFIG.json|yaml"}
"""What may follow ``kind:`` in a model spec (in brackets: optional)."""
COMMANDS = Registry("command", {name: f"{PACKAGE}.cli.{name}" for name in
                                ("simulate", "segment", "compare", "report", "study", "demo")})
COMMAND_ENTRY_POINTS = "lowdose.commands"
"""Entry-point group through which other packages (SyntheticCT) add ``lowdose`` sub-commands."""


def model_usage() -> list[str]:
    """``kind:ARGUMENT`` forms of the model specs, for help texts."""
    return [f"{kind}:{argument}" for kind, argument in SEGMENTER_ARGUMENTS.items()]


# --- results tables -----------------------------------------------------------------------------
TAG_COLUMNS = ("case", "dose", "reconstruction", "model", "realization", "reference")
"""Where a comparison sits in the study: one row per case x dose x reconstruction x model x realization x label."""
METRIC_COLUMNS = ("label", "name", "status", "dice", "hd95_mm", "hd95_vox", "surface_dice",
                  "volume_ref_ml", "volume_test_ml", "r_eff_mm")
TEXT_COLUMNS = ("case", "reconstruction", "model", "reference", "name", "status")
REQUIRED_COLUMNS = ("label", "dice", "hd95_mm")
REFERENCES = ("full_dose", "ground_truth")
DEFAULT_SURFACE_TOLERANCE_MM = 3.0
"""Surface-Dice tolerance: one voxel of TotalSegmentator's 3 mm grid."""
"""What a test mask is compared with: the same model on the full-dose scan (robustness) or ground truth."""
PRESENT_IN_BOTH, ONLY_IN_REFERENCE, ONLY_IN_TEST, ABSENT_IN_BOTH = (
    "present_in_both", "only_in_reference", "only_in_test", "absent_in_both")
"""Values of the ``status`` column (see :mod:`.evaluation.metrics` for the metrics of each)."""
COLUMNS = {
    # column -> (unit, description)
    "case": ("", "scan identifier"),
    "dose": ("", "dose fraction of the test scan, in (0, 1]; 1 = full dose"),
    "reconstruction": ("", "reconstruction / denoising of the test scan"),
    "model": ("", "segmentation model spec"),
    "realization": ("", "noise realization (0, 1, ...; the full-dose reference is realization 0)"),
    "reference": ("", "what the test mask is compared with: full_dose or ground_truth"),
    "label": ("", "label value"),
    "name": ("", "structure name"),
    "status": ("", "present_in_both, only_in_reference, only_in_test or absent_in_both"),
    "dice": ("", "Dice similarity coefficient of test and reference (eq. 5)"),
    "hd95_mm": ("mm", "95th-percentile Hausdorff distance: max of both directed 95th percentiles (eq. 6)"),
    "hd95_vox": ("voxel", "HD95 with unit spacing"),
    "surface_dice": ("", "surface Dice at the comparison's tolerance"),
    "volume_ref_ml": ("ml", "volume in the reference mask"),
    "volume_test_ml": ("ml", "volume in the test mask"),
    "r_eff_mm": ("mm", "effective radius (3V/4pi)^(1/3) of the reference structure (eq. 7)"),
    "contrast": ("", "contrast-enhanced scan (True/False), from the case manifest"),
    "realizations": ("", "number of noise realizations summarised in the row"),
    "dice_mean": ("", "mean Dice across noise realizations"),
    "dice_sd": ("", "standard deviation of Dice across noise realizations"),
    "dice_min": ("", "lowest Dice across noise realizations"),
    "hd95_mm_median": ("mm", "median HD95 across noise realizations"),
    "hd95_mm_max": ("mm", "largest HD95 across noise realizations"),
    "attack_rate": ("", "fraction of noise realizations whose Dice against the full-dose mask is below the "
                        "failure threshold (successful attack rate, Peng et al. 2023, eq. 2)"),
    "failure_dice": ("", "the Dice threshold of attack_rate"),
    "task": ("", "the engine task that failed: case, simulate, segment, compare"),
    "error": ("", "the error message of a failed task"),
}
"""Unit and meaning of every results column (tables in Slicer show them)."""
CASE_COLUMNS = ("case", "ct", "ground_truth", "contrast")
"""A study's case manifest (CSV): paths relative to the manifest; ground_truth and contrast optional."""
FAILURE_COLUMNS = ("case", "task", "dose", "reconstruction", "model", "realization", "error")
REALIZATION_KEYS = ("case", "model", "reconstruction", "dose", "label", "name")
REALIZATION_COLUMNS = (*REALIZATION_KEYS, "realizations", "dice_mean", "dice_sd", "dice_min", "hd95_mm_median",
                       "hd95_mm_max", "attack_rate", "failure_dice")
"""The spread of one label's robustness across noise realizations (reference full_dose), one row per
case x model x reconstruction x dose x label: the study's ``realizations.csv``."""


# --- disagreement maps --------------------------------------------------------------------------
@dataclass(frozen=True)
class DisagreementClass:
    """One voxel class of a disagreement map: its value, name, meaning and display colour (RGB 0..1)."""

    value: int
    name: str
    meaning: str
    colour: tuple[float, float, float]


AGREE, MISSED, ADDED, RELABELLED = 0, 1, 2, 3
DISAGREEMENT_CLASSES = (
    DisagreementClass(AGREE, "agree", "same label in both maps (background included)", (0.15, 0.80, 0.25)),
    DisagreementClass(MISSED, "missed", "labelled in the reference only (lost in the test)", (0.90, 0.10, 0.10)),
    DisagreementClass(ADDED, "added", "labelled in the test only (appeared in the test)", (0.10, 0.35, 0.95)),
    DisagreementClass(RELABELLED, "relabelled", "labelled in both, with different labels", (0.95, 0.85, 0.10)),
)
"""Agreement is green and not drawn by default; missed red, added blue, relabelled yellow."""


# --- a study folder -----------------------------------------------------------------------------
VOLUME_SUFFIX = ".nii.gz"
LABEL_NAMES_SUFFIX = ".labels.json"
GENERIC_LABEL_NAME = re.compile(r"^(?:Segment|label)_(\d+)$")
"""Names that say nothing about a structure: Slicer names the segments it reads from a label-map
file ``Segment_<value>``; the Lib names a label without a name ``label_<value>``."""
ARTIFACT_MANIFEST_SUFFIX = ".manifest.json"
"""Beside every engine artifact: what produced it (its key); an artifact without one is not finished."""
_FILE_SUFFIXES = (*VOLUME_FORMATS, *TABLE_FORMATS, ".html", ".json")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """``text`` as one file-name component: runs of other characters than letters, digits, ``._-`` become ``_``."""
    name = _UNSAFE.sub("_", str(text)).strip("._")
    return name or "unnamed"


def dose_stem(dose: float, realization: int = 0) -> str:
    """``dose_020`` for 20 % dose; noise realization k > 0 appends ``_r{k}`` (``dose_020_r1``)."""
    stem = f"dose_{round(float(dose) * 100):03d}"
    return stem if int(realization) == 0 else f"{stem}_r{int(realization)}"


def model_folder(spec: str) -> str:
    """A folder name for a model spec: ``builtin``, ``totalsegmentator-total_fast``, ``nnunet-<folder>-<hash>``.

    Specs holding a path keep its last component and add a short hash of the whole spec,
    so two models in folders of the same name do not share results.
    """
    kind, _, argument = str(spec).partition(":")
    if not argument:
        return safe_name(kind)
    name = f"{safe_name(kind)}-{safe_name(Path(argument).name)}"
    if "/" in argument or "\\" in argument:
        name += "-" + hashlib.sha1(argument.encode()).hexdigest()[:6]
    return name


def artifact_manifest(path: str | Path) -> Path:
    """The manifest beside an engine artifact: ``dose_020.nii.gz`` -> ``dose_020.manifest.json``."""
    path = Path(path)
    name = next((path.name[: -len(s)] for s in _FILE_SUFFIXES if path.name.endswith(s)), path.name)
    return path.with_name(name + ARTIFACT_MANIFEST_SUFFIX)


@dataclass(frozen=True)
class StudyLayout:
    """Where every file of a study folder lives.

    ::

        study.json                                   engine manifest: settings, cases, engine version
        study.lock                                   present while a study runs in the folder
        cases.csv                                    the cases (columns CASE_COLUMNS)
        inputs/<case>.nii.gz                         inputs exported by the Slicer module (else inputs stay where they are)
        volumes/<case>/<recon>/dose_020.nii.gz       simulated scans; dose_100 is the full-dose reference
        segmentations/<case>/<recon>/<model>/dose_020.nii.gz (+ .labels.json)
        disagreement/<case>/<recon>/<model>/dose_020.nii.gz                   test vs the full-dose mask
        disagreement/<case>/<recon>/<model>/dose_020_vs_ground_truth.nii.gz   test vs ground truth
        metrics/<case>/<recon>/<model>/dose_020_full_dose.csv                 one table per comparison
        results.csv, results.parquet, summary.csv, realizations.csv, failures.csv, report.html, figures/

    Noise realization k > 0 adds ``_r{k}`` to the dose stem (:func:`dose_stem`). Every artifact
    has its manifest beside it (:func:`artifact_manifest`); only ``inputs/`` holds files the
    engine did not write.
    """

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def manifest(self) -> Path:
        return self.root / "study.json"

    @property
    def lock(self) -> Path:
        return self.root / "study.lock"

    @property
    def cases_csv(self) -> Path:
        return self.root / "cases.csv"

    @property
    def inputs(self) -> Path:
        return self.root / "inputs"

    @property
    def results_csv(self) -> Path:
        return self.root / "results.csv"

    @property
    def results_parquet(self) -> Path:
        return self.root / "results.parquet"

    @property
    def summary_csv(self) -> Path:
        return self.root / "summary.csv"

    @property
    def realizations_csv(self) -> Path:
        return self.root / "realizations.csv"

    @property
    def failures_csv(self) -> Path:
        return self.root / "failures.csv"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    def input_volume(self, case: str) -> Path:
        return self.inputs / f"{safe_name(case)}{VOLUME_SUFFIX}"

    def input_ground_truth(self, case: str) -> Path:
        return self.inputs / f"{safe_name(case)}_ground_truth{VOLUME_SUFFIX}"

    def volume(self, case: str, reconstruction: str, dose: float, realization: int = 0) -> Path:
        return (self.root / "volumes" / safe_name(case) / safe_name(reconstruction)
                / f"{dose_stem(dose, realization)}{VOLUME_SUFFIX}")

    def segmentation(self, case: str, reconstruction: str, model: str, dose: float, realization: int = 0) -> Path:
        return (self.root / "segmentations" / safe_name(case) / safe_name(reconstruction) / model_folder(model)
                / f"{dose_stem(dose, realization)}{VOLUME_SUFFIX}")

    def disagreement(self, case: str, reconstruction: str, model: str, dose: float, realization: int = 0,
                     reference: str = "full_dose") -> Path:
        suffix = "" if reference == "full_dose" else f"_vs_{reference}"
        return (self.root / "disagreement" / safe_name(case) / safe_name(reconstruction) / model_folder(model)
                / f"{dose_stem(dose, realization)}{suffix}{VOLUME_SUFFIX}")

    def metrics(self, case: str, reconstruction: str, model: str, dose: float, realization: int = 0,
                reference: str = "full_dose") -> Path:
        return (self.root / "metrics" / safe_name(case) / safe_name(reconstruction) / model_folder(model)
                / f"{dose_stem(dose, realization)}_{reference}.csv")
