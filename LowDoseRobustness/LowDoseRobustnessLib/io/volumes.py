"""Reading and writing volumes (NIfTI, NRRD, MHA, DICOM series folders) with SimpleITK.

Every read is verified first (:mod:`.integrity`): a truncated or corrupt file is refused by
name instead of coming back with zeros where data are missing. :func:`read_header` gives a
volume's grid and voxel type without reading its voxels (for estimates before reading).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import SimpleITK as sitk

from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.atomic import atomic_output
from LowDoseRobustnessLib.io.integrity import nifti_float_voxels, verify_image_file, verify_slice_positions

from LowDoseRobustnessLib.volume import Volume

IMAGE_POSITION_TAG = "0020|0032"


@dataclass(frozen=True)
class VolumeHeader:
    """What a file says about its volume before its voxels are read: shape (z, y, x), spacing (x, y, z) mm."""

    path: Path
    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    pixel_type: str
    components: int

    @property
    def voxels(self) -> int:
        return math.prod(self.shape)


def read_header(path: str | Path) -> VolumeHeader:
    """The grid and voxel type of an image file or DICOM series folder, without reading the voxels."""
    path = _existing(path)
    files = _series_files(path) if path.is_dir() else [str(path)]
    reader = sitk.ImageFileReader()
    reader.SetFileName(files[0])
    try:
        with _itk_warnings_hidden():
            reader.ReadImageInformation()
    except RuntimeError as error:
        verify_image_file(files[0])  # the precise reason, when the file is damaged
        raise InputError(f"cannot read {files[0]} as an image: {_itk_message(error)}") from None
    size = list(reader.GetSize())
    if path.is_dir():
        size = size[:2] + [len(files)]
    return VolumeHeader(path, tuple(int(s) for s in reversed(size)), tuple(reader.GetSpacing()),
                        sitk.GetPixelIDValueAsString(reader.GetPixelID()), reader.GetNumberOfComponents())


def read_volume(path: str | Path) -> Volume:
    """Read a 3D image file or a DICOM series folder (verified first); DICOM rescale slope/intercept are applied (HU)."""
    path = _existing(path)
    hidden_nonfinite = 0
    if path.is_dir():
        image = _read_series(path)
    else:
        hidden_nonfinite = verify_image_file(path)
        try:
            with _itk_warnings_hidden():
                image = sitk.ReadImage(str(path))
        except RuntimeError as error:
            raise InputError(f"cannot read {path} as an image: {_itk_message(error)}") from None
    if image.GetDimension() != 3:
        raise InputError(f"{path} is a {image.GetDimension()}D image; a 3D volume is needed")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{path} has {image.GetNumberOfComponentsPerPixel()} components per voxel; a scalar CT is needed")
    array = sitk.GetArrayFromImage(image)
    if hidden_nonfinite:  # ITK's NIfTI reader makes NaN/inf 0 (water!): take the stored values, the checks see them
        array = nifti_float_voxels(path).reshape(array.shape)
    return Volume(array, image.GetSpacing(), image.GetOrigin(), image.GetDirection())


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"input not found: {path}")
    return path


@contextmanager
def _itk_warnings_hidden() -> Iterator[None]:
    """ITK prints multi-line warnings to stderr; what matters in them is checked here and reported in one line."""
    shown = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(shown)


def _itk_message(error: Exception) -> str:
    """The last informative line of an ITK exception (its first lines are source locations)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (lines[-1] if lines else str(error))[:300]


def _series_files(folder: Path) -> list[str]:
    """The files of the one DICOM series in ``folder``; refuses several series and unreadable DICOM files."""
    with _itk_warnings_hidden():
        series = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise InputError(f"no DICOM series in folder {folder}")
    if len(series) > 1:
        raise InputError(f"folder {folder} holds {len(series)} DICOM series; point to a folder with one series")
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series[0])
    _refuse_unreadable_members(folder, {Path(f).name for f in files})
    return list(files)


def _refuse_unreadable_members(folder: Path, members: set[str]) -> None:
    """GDCM leaves files it cannot parse out of the series; a DICOM file left out is an error, not a gap."""
    for path in sorted(folder.iterdir()):
        if path.name in members or path.name.startswith(".") or not path.is_file() or path.name == "DICOMDIR":
            continue
        with open(path, "rb") as stream:
            looks_dicom = stream.read(132)[128:132] == b"DICM"
        if not looks_dicom:
            continue
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        try:
            reader.ReadImageInformation()
        except RuntimeError:
            raise InputError(f"{path} is a DICOM file that cannot be read (truncated or corrupt?); "
                             "remove or replace it") from None


def _read_series(folder: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(_series_files(folder))
    reader.MetaDataDictionaryArrayUpdateOn()
    try:
        with _itk_warnings_hidden():  # uneven spacing is reported below, in one line
            image = reader.Execute()
    except RuntimeError as error:
        raise InputError(f"cannot read the DICOM series in {folder}: {_itk_message(error)}") from None
    normal = np.asarray(image.GetDirection()).reshape(3, 3)[:, 2]
    positions = []
    for index in range(image.GetSize()[2]):
        if reader.HasMetaDataKey(index, IMAGE_POSITION_TAG):
            position = [float(v) for v in reader.GetMetaData(index, IMAGE_POSITION_TAG).split("\\")]
            positions.append(float(np.dot(normal, position)))
    verify_slice_positions(folder, positions)
    return image


def to_sitk(volume: Volume) -> sitk.Image:
    """The volume as a SimpleITK image with its spacing, origin and direction."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(volume.array))
    image.SetSpacing(volume.spacing)
    image.SetOrigin(volume.origin)
    image.SetDirection(volume.direction)
    return image


def write_volume(volume: Volume, path: str | Path, overwrite: bool = False) -> Path:
    """Write to NIfTI/NRRD/MHA (by extension), atomically; refuses to replace an existing file unless ``overwrite``."""
    path = Path(path)
    with atomic_output(path, overwrite) as temporary:
        sitk.WriteImage(to_sitk(volume), str(temporary), useCompression=True)
    return path
