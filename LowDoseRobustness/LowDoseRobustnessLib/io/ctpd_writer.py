"""Writing simulated lower-dose projections back as DICOM-CT-PD, with the headers of the measured scan.

Each output file is the source file with: new line integrals (the original RescaleSlope and
RescaleIntercept kept when the values fit the stored integer range, else new ones for that file),
the photon statistics and the dose attributes (tube current, mAs, CTDIvol) multiplied by the dose
fraction d, ImageType DERIVED, a derivation description, a new SOP instance UID and one new series
UID for the folder. The folder appears whole or not at all (:func:`.atomic.atomic_folder`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.atomic import atomic_folder
from LowDoseRobustnessLib.io.ctpd_reader import ProjectionScan, is_projection_folder, projection_files
from LowDoseRobustnessLib.io.ctpd_tags import DOSE_TAGS, TAGS

VIEWS_PER_READ = 256


def check_projection_output(output: str | Path, input_folder: str | Path, overwrite: bool) -> None:
    """Refuse an output folder that exists (without ``overwrite``), is the input, or holds other files."""
    output = Path(output)
    if output.resolve() == Path(input_folder).resolve():
        raise InputError(f"{output} is the measured scan itself; choose another folder for the simulated projections")
    if output.exists():
        if not overwrite:
            raise FileExistsError(f"{output} already exists; pass --overwrite to replace it")
        if not output.is_dir() or (projection_files(output) and not is_projection_folder(output)):
            raise InputError(f"{output} holds other files than DICOM-CT-PD projections; it is not replaced")


def write_projection_folder(scan: ProjectionScan, output: str | Path, dose_fraction: float,
                            line_integrals: Callable[[int, int], np.ndarray], description: str,
                            overwrite: bool = False) -> Path:
    """Write every view of ``scan`` to ``output`` with ``line_integrals(first, stop)`` ``[view, row, channel]``.

    ``description`` (e.g. "Zabic thinning to 25 % dose, seed 0") goes into DerivationDescription.
    """
    import pydicom
    from pydicom.uid import generate_uid

    output = Path(output)
    check_projection_output(output, scan.folder, overwrite)
    series_uid = generate_uid()
    with atomic_folder(output, overwrite) as folder:
        for first in range(0, scan.n_views, VIEWS_PER_READ):
            stop = min(first + VIEWS_PER_READ, scan.n_views)
            values = line_integrals(first, stop)
            for k, view in enumerate(range(first, stop)):
                dataset = pydicom.dcmread(scan.files[view])
                _update(dataset, values[k], dose_fraction, description, series_uid)
                dataset.save_as(folder / scan.files[view].name, enforce_file_format=True)
    return output


def _update(dataset, line_integrals: np.ndarray, dose_fraction: float, description: str, series_uid: str) -> None:
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    _set_pixels(dataset, line_integrals)
    if dataset.file_meta.TransferSyntaxUID.is_compressed:
        dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    _scale(dataset, TAGS["PhotonStatistics"].tag, dose_fraction, "<f4")
    for tag in DOSE_TAGS:
        _scale(dataset, tag, dose_fraction, None)
    dataset.SOPInstanceUID = generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.SeriesInstanceUID = series_uid
    series = f"{dataset.get('SeriesDescription', '')} simulated {dose_fraction:.0%} dose"
    dataset.SeriesDescription = series.strip()[:64]
    if "ImageType" in dataset:
        dataset.ImageType = ["DERIVED", *list(dataset.ImageType)[1:]]
    dataset.DerivationDescription = description[:1024]


def _set_pixels(dataset, line_integrals: np.ndarray) -> None:
    """Store ``[row, channel]`` line integrals, keeping slope/intercept when the values fit the integer range."""
    from pydicom.valuerep import DSfloat

    if int(dataset.BitsAllocated) != 16:
        raise InputError(f"only 16-bit projection pixels are supported, not {dataset.BitsAllocated}")
    signed = int(dataset.get("PixelRepresentation", 0)) == 1
    low, high = (-32768, 32767) if signed else (0, 65535)
    slope = float(dataset.get("RescaleSlope", 1.0))
    intercept = float(dataset.get("RescaleIntercept", 0.0))
    values = np.asarray(line_integrals, np.float64).T
    stored = np.rint((values - intercept) / slope)
    if stored.min() < low or stored.max() > high:
        slope = max(slope, (float(values.max()) - float(values.min())) / (high - low) * (1 + 1e-6))
        dataset.RescaleSlope = DSfloat(slope, auto_format=True)
        dataset.RescaleIntercept = DSfloat(float(values.min()) - low * float(dataset.RescaleSlope), auto_format=True)
        slope, intercept = float(dataset.RescaleSlope), float(dataset.RescaleIntercept)
        stored = np.rint((values - intercept) / slope)
    dtype = np.dtype("<i2" if signed else "<u2")
    dataset.PixelData = np.clip(stored, low, high).astype(dtype).tobytes()


def _scale(dataset, tag: int, factor: float, raw_dtype: str | None) -> None:
    """Multiply the attribute ``tag`` by ``factor`` in place, keeping its encoding (raw bytes, number, string)."""
    element = dataset.get(tag)
    if element is None or element.value is None or element.value == b"":
        return
    if isinstance(element.value, bytes):
        if raw_dtype is not None:
            element.value = (np.frombuffer(element.value, raw_dtype) * factor).astype(raw_dtype).tobytes()
        return
    from pydicom.valuerep import DSfloat

    if element.VR == "IS":
        element.value = int(round(float(element.value) * factor))
    elif element.VR == "DS":
        element.value = DSfloat(float(element.value) * factor, auto_format=True)
    elif element.VM > 1:
        element.value = [float(v) * factor for v in element.value]
    else:
        element.value = float(element.value) * factor
