"""The cases of a study, and the one place that turns a case into simulated scans.

``CASES`` on the command line may be CT files (NIfTI, NRRD, MHA), DICOM series folders,
folders of cases, or a CSV manifest with the columns :data:`.contract.CASE_COLUMNS`
(``case,ct,ground_truth,contrast``; ground_truth and contrast optional, paths relative to
the manifest). In a folder of cases every volume file and every DICOM series sub-folder is
a case, and ``<case>_ground_truth.<ext>`` beside ``<case>.<ext>`` is its ground truth (the
names :class:`.contract.StudyLayout` gives exported inputs).

:func:`simulate_case` is the dispatch point from a case to its simulated scans: a CT in HU
goes through the projection-domain simulator; other kinds of input (e.g. measured
projections) add a reader to :data:`CASE_SOURCES`.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from LowDoseRobustnessLib.contract import CASE_COLUMNS, PEAK_MEMORY_BYTES_PER_VOXEL, VOLUME_FORMATS, safe_name
from LowDoseRobustnessLib.errors import InputError
GROUND_TRUTH_SUFFIX = "_ground_truth"
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "y"), ("0", "false", "no", "n")


@dataclass(frozen=True)
class Case:
    """One scan of the study: its name, its input (CT file or folder), optional ground truth and contrast."""

    name: str
    ct: Path
    ground_truth: Optional[Path] = None
    contrast: Optional[bool] = None


def volume_stem(path: Path) -> str | None:
    """``ct.nii.gz`` -> ``ct``; None when the name has no volume suffix."""
    return next((path.name[: -len(s)] for s in VOLUME_FORMATS if path.name.lower().endswith(s)), None)


def is_dicom_folder(path: Path) -> bool:
    """True when ``path`` is a folder directly holding DICOM files (``DICM`` after the 128-byte preamble)."""
    if not path.is_dir():
        return False
    for file in path.iterdir():
        if file.is_file():
            with open(file, "rb") as stream:
                if stream.read(132)[128:] == b"DICM":
                    return True
    return False


def find_cases(inputs: Sequence[str | Path], ground_truths: Sequence[str | Path] = (),
               case_name: Optional[str] = None) -> list[Case]:
    """The cases named by ``inputs`` (see module docstring), in order.

    ``ground_truths`` pair with the cases in order (as many as there are cases); ``case_name``
    renames a single case. Two cases of the same name are refused.
    """
    cases = [case for item in inputs for case in _cases_of(Path(item).expanduser().resolve())]
    if not cases:
        raise InputError(f"no cases found in {', '.join(map(str, inputs))}: give CT files, DICOM folders, "
                         f"folders of cases or a CSV manifest ({','.join(CASE_COLUMNS)})")
    if ground_truths:
        if len(ground_truths) != len(cases):
            raise InputError(f"{len(ground_truths)} --ground-truth for {len(cases)} cases; give one per case in "
                             "order, or a CSV manifest with a ground_truth column")
        cases = [Case(c.name, c.ct, Path(g).expanduser().resolve(), c.contrast) for c, g in zip(cases, ground_truths)]
    if case_name is not None:
        if len(cases) != 1:
            raise InputError(f"--case names one case, but {len(cases)} were given")
        cases = [Case(case_name, cases[0].ct, cases[0].ground_truth, cases[0].contrast)]
    names = [safe_name(c.name) for c in cases]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"several cases are named {', '.join(twice)}; give them distinct names (CSV manifest)")
    return cases


def _cases_of(path: Path) -> list[Case]:
    if not path.exists():
        raise InputError(f"case input not found: {path}")
    if path.is_file() and path.suffix.lower() == ".csv":
        return read_case_manifest(path)
    if path.is_file() or is_dicom_folder(path) or _is_case_source(path):
        return [Case(volume_stem(path) or path.name, path)]
    return _folder_of_cases(path)


def _folder_of_cases(folder: Path) -> list[Case]:
    """Every volume file (ground truths paired by name) and DICOM series sub-folder of ``folder``."""
    entries = sorted(folder.iterdir())
    stems = {p: volume_stem(p) for p in entries if p.is_file()}
    truths = {stem[: -len(GROUND_TRUTH_SUFFIX)]: p for p, stem in stems.items()
              if stem and stem.endswith(GROUND_TRUTH_SUFFIX)}
    cases = [Case(stem, p, truths.get(stem)) for p, stem in stems.items()
             if stem and not stem.endswith(GROUND_TRUTH_SUFFIX)]
    cases += [Case(p.name, p) for p in entries if p.is_dir() and (is_dicom_folder(p) or _is_case_source(p))]
    return sorted(cases, key=lambda c: c.name)


def read_case_manifest(path: Path) -> list[Case]:
    """Cases from a CSV manifest (columns :data:`.contract.CASE_COLUMNS`; paths relative to the manifest)."""
    with open(path, newline="", encoding="utf-8-sig") as stream:
        rows = list(csv.DictReader(stream))
    columns = set(rows[0]) if rows else set()
    if not {"case", "ct"} <= columns:
        raise InputError(f"case manifest {path} needs the columns case and ct (optional: ground_truth, contrast)")
    unknown = sorted(columns - set(CASE_COLUMNS))
    if unknown:
        raise InputError(f"case manifest {path} has unknown columns {', '.join(unknown)}; "
                         f"the columns are {', '.join(CASE_COLUMNS)}")
    cases = []
    for number, row in enumerate(rows, start=2):
        if not (row["case"] or "").strip() or not (row["ct"] or "").strip():
            raise InputError(f"{path}, line {number}: case and ct must not be empty")
        truth = (row.get("ground_truth") or "").strip()
        cases.append(Case(row["case"].strip(), (path.parent / row["ct"].strip()).resolve(),
                          (path.parent / truth).resolve() if truth else None,
                          _contrast(row.get("contrast"), f"{path}, line {number}")))
    return cases


def _contrast(text: Optional[str], where: str) -> Optional[bool]:
    text = (text or "").strip().lower()
    if not text:
        return None
    if text in TRUE_WORDS or text in FALSE_WORDS:
        return text in TRUE_WORDS
    raise InputError(f"{where}: contrast must be yes/no (or true/false, 1/0), got {text!r}")


# --- from a case to simulated scans -------------------------------------------------------------
CASE_SOURCES: list[tuple[str, str]] = [
    ("LowDoseRobustnessLib.io.ctpd_reader:is_projection_folder", "LowDoseRobustnessLib.study.cases:simulate_projections"),
]
"""Other kinds of case input than a CT in HU, as ``("module:recognise", "module:simulate")`` pairs:
``recognise(path) -> bool`` tells the input kind; ``simulate(case, doses, settings, seed, cancel)``
returns ``{dose: Volume}`` as :func:`simulate_ct` does. Loaded only when used. Measured projections
(DICOM-CT-PD folders) are thinned and reconstructed on the default grid of
:class:`..simulation.measured.ReconstructionGrid`."""


def _load(target: str):
    from importlib import import_module

    module, _, attribute = target.partition(":")
    return getattr(import_module(module), attribute)


def _is_case_source(path: Path) -> bool:
    return any(_load(recognise)(path) for recognise, _ in CASE_SOURCES)


def _source(case: Case):
    """The registered simulate function for the case's kind of input, or None for a CT in HU."""
    return next((_load(target) for recognise, target in CASE_SOURCES if _load(recognise)(case.ct)), None)


def check_cases(cases: Sequence[Case], fix_nonfinite: bool = False) -> tuple[list[Case], dict[str, str]]:
    """The cases whose inputs pass the input checks (:mod:`..io.validation`), and case -> why each other was refused.

    Checked before the study starts, so a bad input is named at once; when every case is
    refused, the first refusal is raised (nothing is written).
    """
    from LowDoseRobustnessLib.io.validation import read_ct, read_label_map

    accepted, refused, first_error = [], {}, None
    for case in cases:
        try:
            if _source(case) is None:
                ct = read_ct(case.ct, fix_nonfinite, PEAK_MEMORY_BYTES_PER_VOXEL["simulation"], "simulating")
                if case.ground_truth is not None:
                    read_label_map(case.ground_truth, ct, "the CT")
        except (InputError, FileNotFoundError) as error:
            refused[case.name] = str(error)
            first_error = first_error or error
            continue
        accepted.append(case)
    if not accepted and first_error is not None:
        raise first_error
    return accepted, refused


def simulate_case(case: Case, doses: Sequence[float], settings, seed: int, cancel=None,
                  fix_nonfinite: bool = False, model_seed: int = 0) -> dict:
    """The case simulated at ``doses`` with one noise seed: ``{dose: Volume}`` in HU, 1.0 included.

    The one dispatch point from a case's input to scans: a registered source for its kind
    (:data:`CASE_SOURCES`), else a CT in HU (:func:`simulate_ct`; ``model_seed`` seeds its
    image-noise model when ``settings.noise`` is ``image``).
    """
    source = _source(case)
    if source is not None:
        if settings.noise == "image":
            raise InputError(f"--noise image applies to reconstructed CTs; {case.ct} holds measured projections, "
                             "which are thinned in the projection domain")
        return source(case, doses, settings, seed, cancel)
    return simulate_ct(case, doses, settings, seed, cancel, fix_nonfinite, model_seed)


def simulate_ct(case: Case, doses: Sequence[float], settings, seed: int, cancel=None,
                fix_nonfinite: bool = False, model_seed: int = 0) -> dict:
    """A reconstructed CT in HU, checked (:func:`..io.validation.read_ct`), through the projection-domain
    simulator (the paper's sec. 3.1), or drawn from its image-noise model (:mod:`..simulation.image_noise`,
    learnt once per case and reconstruction from projection-domain realizations seeded by ``model_seed``)."""
    from LowDoseRobustnessLib.io.validation import read_ct
    from LowDoseRobustnessLib.simulation.image_noise import simulate_realizations
    from LowDoseRobustnessLib.study.worker_cache import image_noise_model_for, projector_for

    volume = read_ct(case.ct, fix_nonfinite, PEAK_MEMORY_BYTES_PER_VOXEL["simulation"], "simulating")
    projector = projector_for(volume, settings)
    model = image_noise_model_for(case, volume, settings, doses, model_seed, projector, cancel)
    return simulate_realizations(volume, doses, settings, [seed], projector, model=model, cancel=cancel)[0]


def simulate_projections(case: Case, doses: Sequence[float], settings, seed: int, cancel=None) -> dict:
    """Measured projections (a DICOM-CT-PD folder) thinned to ``doses`` and reconstructed
    (:func:`..simulation.measured.simulate_from_projections`); 1.0 is the measured full dose."""
    from LowDoseRobustnessLib.contract import REFERENCE_DOSE
    from LowDoseRobustnessLib.simulation.measured import simulate_from_projections

    return simulate_from_projections(case.ct, doses, settings, seed, include_reference=REFERENCE_DOSE in doses,
                                     cancel=cancel)
