"""Image-quality numbers for comparing reconstructions, in HU.

Noise SD: the standard deviation of the voxels in a region of uniform tissue (a
phantom insert, an eroded organ mask); the paper's measure (sec. 3.1, liver ROI in
sec. 5.1). RMSE: root mean squared difference from a reference reconstruction
(e.g. the full-dose one of the same chain). Noise ratios with standard errors and the
mean frequency of the noise power spectrum compare pure-noise volumes (noisy minus
noiseless) slice by slice, where slices are independent (fan beam).
For noise-only samples of many realizations: SD and NPS centroid (mean frequency) with
standard errors, over ROI units.
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


def roi_units(samples: np.ndarray, boxes) -> list[np.ndarray]:
    """One stratum per in-plane box: the 2D units (slices of realizations) of ``samples[..., y, x]`` in it."""
    units = [np.asarray(samples, np.float64)[(...,) + tuple(box)] for box in boxes]
    return [unit.reshape((-1,) + unit.shape[-2:]) for unit in units]


def noise_sd(strata: list[np.ndarray]) -> tuple[float, float, int]:
    """(SD, standard error, n units) in HU of zero-mean noise given as strata of 2D units (:func:`roi_units`).

    Every unit (one slice of one realization) is independent: the variance is the mean of the
    units' mean squares, its standard error comes from the spread within each stratum (box), and
    SE(SD) = SE(var) / (2 SD).
    """
    squares = [(units ** 2).mean(axis=(1, 2)) for units in strata]
    count = sum(s.size for s in squares)
    variance = sum(s.sum() for s in squares) / count
    standard_error = np.sqrt(sum(s.size * s.var(ddof=1) for s in squares)) / count / (2 * np.sqrt(variance))
    return float(np.sqrt(variance)), float(standard_error), count


def nps_centroid(strata: list[np.ndarray], pixel_mm: float) -> tuple[float, float, int]:
    """(mean frequency in 1/mm, standard error, n units) of the noise power spectrum of strata of 2D units.

    NPS = dx dy / (Nx Ny) <|F n|^2> over the units (Siewerdsen et al. 2002); its centroid is
    sum |f| NPS / sum NPS, a ratio of totals, with the delta-method standard error (within strata).
    """
    numerators, denominators = [], []
    for units in strata:
        power = np.abs(np.fft.fft2(units)) ** 2
        frequency = np.hypot(*np.meshgrid(np.fft.fftfreq(units.shape[1], pixel_mm),
                                          np.fft.fftfreq(units.shape[2], pixel_mm), indexing="ij"))
        numerators.append((power * frequency).sum(axis=(1, 2)))
        denominators.append(power.sum(axis=(1, 2)))
    total = sum(d.sum() for d in denominators)
    centroid = sum(n.sum() for n in numerators) / total
    residual_variance = sum(n.size * (n - centroid * d).var(ddof=1) for n, d in zip(numerators, denominators))
    return float(centroid), float(np.sqrt(residual_variance) / total), sum(n.size for n in numerators)
