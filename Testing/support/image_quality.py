"""Image-quality numbers for comparing reconstructions, in HU.

Noise SD: the standard deviation of the voxels in a region of uniform tissue (a
phantom insert, an eroded organ mask); the paper's measure (sec. 3.1, liver ROI in
sec. 5.1). RMSE: root mean squared difference from a reference reconstruction
(e.g. the full-dose one of the same chain). Noise ratios with standard errors and the
mean frequency of the noise power spectrum compare pure-noise volumes (noisy minus
noiseless) slice by slice, where slices are independent (fan beam).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from LowDoseRobustnessLib.simulation.noise_maps import radial_noise_power_spectrum


def roi_mean_sd(hu: np.ndarray, roi) -> tuple[float, float]:
    """(mean, SD) in HU of ``hu[roi]``; ``roi`` is a boolean mask or an index tuple."""
    values = np.asarray(hu, np.float64)[roi]
    return float(values.mean()), float(values.std())


def rmse_hu(hu: np.ndarray, reference_hu: np.ndarray) -> float:
    """Root mean squared difference in HU over the whole volume."""
    return float(np.sqrt(np.mean((np.asarray(hu, np.float64) - reference_hu) ** 2)))


def noise_sd_ratio(noise: np.ndarray, reference_noise: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """SD of ``noise`` over SD of ``reference_noise`` in ``region`` ``[y, x]``, and its standard error.

    Both are pure-noise volumes ``[z, y, x]`` with independent slices: the per-slice variances
    give the SE of each mean variance, and the delta method that of the ratio of SDs.
    """
    a = np.asarray(noise, np.float64)[:, region].var(axis=1)
    b = np.asarray(reference_noise, np.float64)[:, region].var(axis=1)
    ratio = float(np.sqrt(a.mean() / b.mean()))
    relative = 0.5 * np.sqrt(a.var(ddof=1) / (a.size * a.mean() ** 2) + b.var(ddof=1) / (b.size * b.mean() ** 2))
    return ratio, float(ratio * relative)


def mean_frequency(noise: np.ndarray, spacing_mm, region: np.ndarray) -> float:
    """Mean frequency (1/mm) of the radial NPS of ``noise`` inside ``region`` (tapered), weighted by variance."""
    weights = ndimage.gaussian_filter(np.asarray(region, np.float32), 2.0)
    frequencies, nps = radial_noise_power_spectrum(noise, spacing_mm, weights)
    share = nps * frequencies
    return float(np.sum(frequencies * share) / np.sum(share))
