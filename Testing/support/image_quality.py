"""Image-quality numbers for comparing reconstructions, in HU.

Noise SD: the standard deviation of the voxels in a region of uniform tissue (a
phantom insert, an eroded organ mask); the paper's measure (sec. 3.1, liver ROI in
sec. 5.1). RMSE: root mean squared difference from a reference reconstruction
(e.g. the full-dose one of the same chain).
"""
from __future__ import annotations

import numpy as np


def roi_mean_sd(hu: np.ndarray, roi) -> tuple[float, float]:
    """(mean, SD) in HU of ``hu[roi]``; ``roi`` is a boolean mask or an index tuple."""
    values = np.asarray(hu, np.float64)[roi]
    return float(values.mean()), float(values.std())


def rmse_hu(hu: np.ndarray, reference_hu: np.ndarray) -> float:
    """Root mean squared difference in HU over the whole volume."""
    return float(np.sqrt(np.mean((np.asarray(hu, np.float64) - reference_hu) ** 2)))
