"""Reading a DICOM-CT-PD folder (one measured projection per file) into a :class:`ProjectionScan`.

The headers of all files are read at once (geometry, focal-spot positions, photon statistics);
the line integrals of a range of views are read when asked for (:meth:`ProjectionScan.line_integrals`),
so a scan of tens of thousands of views is never held in memory whole. Pixel layout (as the
LDCT Grand Challenge files store it): the image has one row per detector column (channel) and one
column per detector row; values are line integrals = stored value x RescaleSlope + RescaleIntercept.
Private tags are decoded by the VR of :mod:`.ctpd_tags` whether the file was written with implicit
VR (values arrive as raw bytes) or explicit VR.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.ctpd_tags import (DETECTOR_SHAPES, FLYING_FOCAL_SPOT_POSITIONS, FOCAL_SPOT_SHIFTS,
                                               PROJECTION_GEOMETRIES, REQUIRED_PER_SCAN, REQUIRED_PER_VIEW, TAGS,
                                               WATER_ATTENUATION)

_DECODE = {"FL": "<f4", "FD": "<f8", "US": "<u2", "UL": "<u4", "SS": "<i2", "SL": "<i4"}
_TEXT = ("CS", "DS", "IS", "LO", "SH", "ST", "LT")


def tag_value(dataset, keyword: str):
    """The value of DICOM-CT-PD attribute ``keyword`` in ``dataset``, or None: numbers as float/int or
    numpy arrays (multi-valued), strings stripped.

    Raw (not yet converted) elements are decoded from their bytes, by the VR the file gives (explicit
    VR) or by the dictionary's (implicit VR, where private tags arrive as bytes): fast for the
    tens of thousands of headers of a scan. Little-endian files only.
    """
    tag = TAGS[keyword]
    if tag.tag not in dataset:
        return None
    element = dataset.get_item(tag.tag)
    value = element.value
    vr = element.VR if element.VR in _DECODE or element.VR in _TEXT else tag.vr
    if value is None or (isinstance(value, (bytes, str)) and len(value) == 0):
        return None
    if isinstance(value, bytes):
        value = np.frombuffer(value, _DECODE[vr]) if vr in _DECODE else value.decode("ascii", "replace")
    if vr in ("DS", "IS"):
        numbers = [float(v) for v in str(value).strip("\x00 ").split("\\")] if isinstance(value, str) else value
        value = np.atleast_1d(np.asarray(numbers, dtype=np.float64))
    elif vr in _DECODE:
        value = np.atleast_1d(np.asarray(value, dtype=np.float64))
    else:
        return str(value).strip("\x00 ")
    return value[0].item() if tag.vm == "1" else value


@dataclass(frozen=True)
class DetectorLayout:
    """The detector, the same for every view. Lengths in mm at the detector; indices 0-based."""

    shape: str
    rows: int
    channels: int
    channel_mm: float
    row_mm: float
    central_channel: float
    central_row: float
    focal_center_to_detector_mm: float


@dataclass(frozen=True, eq=False)
class ProjectionScan:
    """A measured scan: detector, per-view focal-centre and focal-spot positions (as stored, DICOM-CT-PD
    frame), photon statistics ``[view, channel]`` and the water attenuation used for HU."""

    folder: Path
    files: tuple[Path, ...]
    detector: DetectorLayout
    views_per_turn: int
    flying_focal_spot: str
    focal_center_angle_rad: np.ndarray
    focal_center_z_mm: np.ndarray
    focal_center_radius_mm: np.ndarray
    focal_spot_angle_shift_rad: np.ndarray
    focal_spot_z_shift_mm: np.ndarray
    focal_spot_radius_shift_mm: np.ndarray
    photon_statistics: np.ndarray
    water_attenuation_per_mm: float
    data_collection_diameter_mm: float | None
    projection_type: str | None
    """TypeofProjectionData: "AXIAL", "HELICAL", or None when the files do not say (the table motion decides)."""

    @property
    def n_views(self) -> int:
        return len(self.files)

    def line_integrals(self, first: int, stop: int) -> np.ndarray:
        """Line integrals ``[view, row, channel]`` (float32) of views ``first .. stop - 1``."""
        import pydicom

        out = np.empty((stop - first, self.detector.rows, self.detector.channels), np.float32)
        for k, path in enumerate(self.files[first:stop]):
            dataset = pydicom.dcmread(path)
            out[k] = stored_line_integrals(dataset, self.detector, path)
        return out


def stored_line_integrals(dataset, detector: DetectorLayout, path) -> np.ndarray:
    """``[row, channel]`` line integrals of one file: pixel values x RescaleSlope + RescaleIntercept."""
    pixels = dataset.pixel_array
    if pixels.shape != (detector.channels, detector.rows):
        raise InputError(f"{path}: image of {pixels.shape[0]} x {pixels.shape[1]} pixels; DICOM-CT-PD stores "
                         f"{detector.channels} detector columns x {detector.rows} detector rows")
    slope = float(dataset.get("RescaleSlope", 1.0))
    intercept = float(dataset.get("RescaleIntercept", 0.0))
    return (pixels.T.astype(np.float32) * np.float32(slope) + np.float32(intercept)).astype(np.float32)


def projection_files(folder: Path) -> list[Path]:
    """The candidate files of a folder: regular files, hidden and partial ones excluded, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def is_projection_folder(path: str | Path) -> bool:
    """True when ``path`` is a folder whose first file is a DICOM-CT-PD projection (carries the detector tags)."""
    path = Path(path)
    if not path.is_dir():
        return False
    files = projection_files(path)
    if not files:
        return False
    import pydicom

    try:
        dataset = pydicom.dcmread(files[0], stop_before_pixels=True,
                                  specific_tags=[TAGS["NumberofDetectorRows"].tag,
                                                 TAGS["DetectorFocalCenterAngularPosition"].tag])
    except Exception:  # not DICOM at all: pydicom raises several kinds of errors
        return False
    return TAGS["NumberofDetectorRows"].tag in dataset and TAGS["DetectorFocalCenterAngularPosition"].tag in dataset


def _required(dataset, keywords, path) -> dict:
    values = {keyword: tag_value(dataset, keyword) for keyword in keywords}
    missing = [f"{k} ({TAGS[k].tag >> 16:04X},{TAGS[k].tag & 0xFFFF:04X})" for k, v in values.items() if v is None]
    if missing:
        raise InputError(f"{path} is not a complete DICOM-CT-PD projection: missing {', '.join(missing)}")
    return values


def _detector(values: dict, path) -> DetectorLayout:
    shape = values["DetectorShape"].upper()
    if shape not in DETECTOR_SHAPES:
        raise InputError(f"{path}: DetectorShape {shape!r} is not supported (supported: {', '.join(DETECTOR_SHAPES)})")
    central = np.asarray(values["DetectorCentralElement"], dtype=np.float64)
    if central.size != 2:
        raise InputError(f"{path}: DetectorCentralElement needs 2 values (column, row), got {central.size}")
    return DetectorLayout(shape=shape, rows=int(values["NumberofDetectorRows"]),
                          channels=int(values["NumberofDetectorColumns"]),
                          channel_mm=float(values["DetectorElementTransverseSpacing"]),
                          row_mm=float(values["DetectorElementAxialSpacing"]),
                          central_channel=float(central[0]) - 1.0, central_row=float(central[1]) - 1.0,
                          focal_center_to_detector_mm=float(values["ConstantRadialDistance"]))


def _check_supported(dataset, path) -> tuple[str, str | None]:
    """Refuse what this reader does not handle (dual source / spectral, non-fan geometry); returns the FFS mode
    and the projection type (AXIAL, HELICAL or None)."""
    spectra = tag_value(dataset, "NumberofSpectra")
    if spectra is not None and int(spectra) != 1:
        raise InputError(f"{path}: NumberofSpectra = {spectra}: dual-source and spectral (multi-energy) scans "
                         "are not supported")
    geometry = tag_value(dataset, "TypeofProjectionGeometry")
    if geometry is not None and geometry.upper() not in PROJECTION_GEOMETRIES:
        raise InputError(f"{path}: TypeofProjectionGeometry {geometry!r} is not supported "
                         f"(supported: {', '.join(PROJECTION_GEOMETRIES)})")
    mode = tag_value(dataset, "FlyingFocalSpotMode").upper()
    if mode not in FLYING_FOCAL_SPOT_POSITIONS:
        raise InputError(f"{path}: FlyingFocalSpotMode {mode!r} is unknown "
                         f"(known: {', '.join(FLYING_FOCAL_SPOT_POSITIONS)})")
    kind = tag_value(dataset, "TypeofProjectionData")
    return mode, None if kind is None else kind.upper()


def read_projection_folder(path: str | Path, progress=None) -> ProjectionScan:
    """Read the headers of every projection in ``path`` (ordered by InstanceNumber, else by file name).

    Raises :class:`InputError` naming the file and the tags when a tag is missing, a value is
    not supported (detector shape, flying-focal-spot mode, several spectra) or the detector
    differs between files. ``progress(fraction, message)`` is called every 1000 files.
    """
    import pydicom

    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"projection folder not found: {folder}")
    files = projection_files(folder)
    if not files:
        raise InputError(f"{folder} holds no files")
    first = _read_header(files[0])
    scan_values = _required(first, REQUIRED_PER_SCAN, files[0])
    detector = _detector(scan_values, files[0])
    mode, projection_type = _check_supported(first, files[0])
    water = next((v for v in (tag_value(first, k) for k in WATER_ATTENUATION) if v is not None), None)
    if water is None or not water > 0:
        raise InputError(f"{files[0]}: no water attenuation coefficient (WaterAttenuationCoefficient (7041,1001) "
                         "or HUCalibrationFactor (0018,0061)); it is needed to convert to HU")
    per_view = {k: [] for k in REQUIRED_PER_VIEW + FOCAL_SPOT_SHIFTS + ("InstanceNumber",)}
    for k, file in enumerate(files):
        dataset = first if k == 0 else _read_header(file)
        for keyword, value in _view_values(dataset, file, scan_values, detector, mode).items():
            per_view[keyword].append(value)
        if progress is not None and k % 1000 == 999:
            progress((k + 1) / len(files), f"read {k + 1} of {len(files)} projection headers")
    order = _acquisition_order(per_view.pop("InstanceNumber"))
    view = {keyword: np.asarray(values)[order] for keyword, values in per_view.items()}
    diameter = first.get("DataCollectionDiameter")
    return ProjectionScan(
        folder=folder, files=tuple(files[k] for k in order), detector=detector,
        views_per_turn=int(scan_values["NumberofSourceAngularSteps"]), flying_focal_spot=mode,
        focal_center_angle_rad=view["DetectorFocalCenterAngularPosition"].astype(np.float64),
        focal_center_z_mm=view["DetectorFocalCenterAxialPosition"].astype(np.float64),
        focal_center_radius_mm=view["DetectorFocalCenterRadialDistance"].astype(np.float64),
        focal_spot_angle_shift_rad=view["SourceAngularPositionShift"].astype(np.float64),
        focal_spot_z_shift_mm=view["SourceAxialPositionShift"].astype(np.float64),
        focal_spot_radius_shift_mm=view["SourceRadialDistanceShift"].astype(np.float64),
        photon_statistics=view["PhotonStatistics"].astype(np.float32),
        water_attenuation_per_mm=float(water),
        data_collection_diameter_mm=None if diameter is None else float(diameter),
        projection_type=projection_type)


def _read_header(file: Path):
    import pydicom

    try:
        dataset = pydicom.dcmread(file, stop_before_pixels=True)
    except Exception as error:  # pydicom raises several kinds of errors for files that are not DICOM
        raise InputError(f"{file} is not a DICOM file ({error})") from None
    if not dataset.original_encoding[1]:
        raise InputError(f"{file} is big-endian; DICOM-CT-PD projections are read in little-endian encodings only")
    return dataset


def _view_values(dataset, file, scan_values: dict, detector: DetectorLayout, mode: str) -> dict:
    """The per-view values of one file, after checking that it shares the scan's detector."""
    for keyword, value in _required(dataset, REQUIRED_PER_SCAN, file).items():
        if not np.array_equal(np.asarray(value), np.asarray(scan_values[keyword])):
            raise InputError(f"{file}: {keyword} differs from the first file's; all views of a scan must share "
                             "one detector")
    values = _required(dataset, REQUIRED_PER_VIEW, file)
    shifts = {k: tag_value(dataset, k) for k in FOCAL_SPOT_SHIFTS}
    if mode != "FFSNONE" and any(v is None for v in shifts.values()):
        raise InputError(f"{file}: flying focal spot {mode} but missing "
                         f"{', '.join(k for k, v in shifts.items() if v is None)}")
    values.update({k: 0.0 if v is None else v for k, v in shifts.items()})
    values["PhotonStatistics"] = np.asarray(values["PhotonStatistics"], dtype=np.float32)
    if values["PhotonStatistics"].size != detector.channels:
        raise InputError(f"{file}: PhotonStatistics has {values['PhotonStatistics'].size} values, expected one per "
                         f"detector column ({detector.channels})")
    if not np.all(values["PhotonStatistics"] > 0):
        raise InputError(f"{file}: PhotonStatistics must be positive photon numbers")
    values["InstanceNumber"] = dataset.get("InstanceNumber")
    return values


def _acquisition_order(instance_numbers: list) -> np.ndarray:
    """Indices of the views in acquisition order: by InstanceNumber when every file has a distinct one."""
    numbers = [None if n is None else int(n) for n in instance_numbers]
    if None not in numbers and len(set(numbers)) == len(numbers):
        return np.argsort([int(n) for n in instance_numbers], kind="stable")
    return np.arange(len(instance_numbers))
