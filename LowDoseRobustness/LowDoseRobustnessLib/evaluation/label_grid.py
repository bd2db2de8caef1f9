"""Bringing a test label map onto the grid of its reference label map."""
from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from LowDoseRobustnessLib.io.volumes import to_sitk
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume


def labels_on_reference_grid(reference: Volume, test: Volume, resample: bool = False) -> np.ndarray:
    """The test labels as an array on the reference grid.

    Same grid (shape, spacing, origin, direction): the test array as it is.
    Otherwise an :class:`InputError`, unless ``resample`` is set: then the test map is
    resampled onto the reference grid by nearest neighbour (label values are kept;
    voxels outside the test volume become background 0).
    """
    if reference.same_grid(test):
        return test.array
    if not resample:
        raise InputError(
            "the two label maps are on different grids "
            f"(reference: {reference.array.shape[::-1]} voxels of {reference.spacing} mm at {reference.origin}; "
            f"test: {test.array.shape[::-1]} voxels of {test.spacing} mm at {test.origin}); "
            "resample the test map onto the reference grid (resample=True, CLI: --resample) to compare them")
    test_image = to_sitk(test)
    resampled = sitk.Resample(test_image, reference.array.shape[::-1], sitk.Transform(), sitk.sitkNearestNeighbor,
                              reference.origin, reference.spacing, reference.direction, 0, test_image.GetPixelID())
    return sitk.GetArrayFromImage(resampled)
