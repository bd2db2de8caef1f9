"""Moving images between the input grid and a model's working grid (SimpleITK)."""
from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from LowDoseRobustnessLib.io.volumes import to_sitk
from LowDoseRobustnessLib.volume import Volume



def to_model_grid(volume: Volume, spacing_mm: tuple[float, float, float] | None,
                  interpolator=sitk.sitkLinear, default_value: float = -1024.0, orientation: str = "LPS") -> sitk.Image:
    """The volume reoriented (SimpleITK ``DICOMOrient`` code; "LPS" = identity direction, "RAS" = nibabel's
    canonical) and resampled to ``spacing_mm`` (x, y, z) over the same extent.

    ``spacing_mm=None`` keeps the voxel size (reorientation only, no interpolation).
    """
    image = sitk.DICOMOrient(to_sitk(volume), orientation)
    if spacing_mm is None:
        return image
    spacing = np.asarray(spacing_mm, dtype=float)
    extent_mm = np.asarray(image.GetSize()) * np.asarray(image.GetSpacing())
    size = [max(1, int(round(n))) for n in extent_mm / spacing]
    origin = np.asarray(image.GetOrigin()) + 0.5 * (spacing - np.asarray(image.GetSpacing()))
    return sitk.Resample(image, size, sitk.Transform(), interpolator, origin.tolist(), spacing.tolist(),
                         image.GetDirection(), default_value, image.GetPixelID())


def label_map_to_grid(label_map: sitk.Image, reference: Volume) -> Volume:
    """A label image resampled to the ``reference`` grid with nearest neighbour (labels stay integers)."""
    reference_image = to_sitk(reference.with_array(np.zeros(reference.array.shape, np.uint8)))
    resampled = sitk.Resample(sitk.Cast(label_map, sitk.sitkUInt16), reference_image, sitk.Transform(),
                              sitk.sitkNearestNeighbor, 0, sitk.sitkUInt16)
    return reference.with_array(sitk.GetArrayFromImage(resampled))


def labels_to_input_grid(labels: np.ndarray, model_grid: sitk.Image, reference: Volume) -> Volume:
    """Labels ``[z, y, x]`` predicted on ``model_grid`` (from :func:`to_model_grid`), on the ``reference`` grid."""
    label_image = sitk.GetImageFromArray(np.ascontiguousarray(labels.astype(np.uint16)))
    label_image.CopyInformation(model_grid)
    return label_map_to_grid(label_image, reference)
