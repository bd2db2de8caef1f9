"""Reading and writing volumes (NIfTI, NRRD, MHA, DICOM series folders) with SimpleITK."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.atomic import atomic_output

from LowDoseRobustnessLib.volume import Volume


def read_volume(path: str | Path) -> Volume:
    """Read a 3D image file or a DICOM series folder; DICOM rescale slope/intercept are applied (HU)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"input not found: {path}")
    if path.is_dir():
        reader = sitk.ImageSeriesReader()
        series = reader.GetGDCMSeriesIDs(str(path))
        if not series:
            raise InputError(f"no DICOM series in folder {path}")
        if len(series) > 1:
            raise InputError(f"folder {path} holds {len(series)} DICOM series; point to a folder with one series")
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(path), series[0]))
        image = reader.Execute()
    else:
        try:
            image = sitk.ReadImage(str(path))
        except RuntimeError as error:
            raise InputError(f"cannot read {path} as an image: {error}") from None
    if image.GetDimension() != 3:
        raise InputError(f"{path} is a {image.GetDimension()}D image; a 3D volume is needed")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{path} has {image.GetNumberOfComponentsPerPixel()} components per voxel; a scalar CT is needed")
    return Volume(sitk.GetArrayFromImage(image), image.GetSpacing(), image.GetOrigin(), image.GetDirection())


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
