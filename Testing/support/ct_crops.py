"""Small crops of the real example CT (and its labels) for tests that run whole studies."""
from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk

from shared_data import EXAMPLES

CENTRE = (slice(29, 93), slice(18, 82))
"""The central 64 x 64 voxels (x, y) of the 122 x 101 example slices: liver, spleen, kidneys and spine, cheap."""


def write_crop(path: Path, first_slice: int, slices: int = 4, labels: bool = False, centre: bool = True) -> Path:
    """Write ``slices`` axial slices of the example CT (or of its label map) from ``first_slice`` to ``path``."""
    image = sitk.ReadImage(str(EXAMPLES / ("example_seg.nii.gz" if labels else "example_ct_sm.nii.gz")))
    x, y = CENTRE if centre else (slice(None), slice(None))
    sitk.WriteImage(image[x, y, first_slice:first_slice + slices], str(path))
    return Path(path)
