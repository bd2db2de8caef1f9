"""Local noise statistics of a reconstructed CT, estimated from noise-only samples.

The estimation side of :mod:`.image_noise`. A noise sample is a difference of independent
realizations of the same scan scaled to the noise of one realization (Helmert contrasts:
``K`` realizations give ``K - 1`` independent samples, no noise-free image needed). From the
samples, per dose level:

* the local noise variance: voxel-wise mean of squares, Gaussian-smoothed in mm;
* the local noise power spectrum (NPS) on a grid of half-overlapping in-plane patches, pooled
  over slabs of slices: S(f) = dx dy / (Nx Ny) <|F n|^2> (Siewerdsen et al. 2002; Peng et al.
  2023, eq. 3), each patch under a Hann window (its leakage would otherwise spread a soft
  kernel's low-frequency power to high frequencies), normalised to unit variance (the NPS
  *shape*; the amplitude is the variance map's). No smoothing in frequency: the low-rank
  basis of :mod:`.image_noise` averages the patches' estimates instead, without blurring them;
* the correlation of the noise between neighbouring slices (zero in fan mode, where every
  slice is its own acquisition; not in cone-beam FDK).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import gaussian_filter

PATCH_MM = 48.0
"""In-plane patch side on which a local NPS is estimated (half-overlapping patches)."""
SLAB_MM = 24.0
"""Slab thickness over which the local NPS is pooled (the anatomy changes slowly along z)."""
VARIANCE_SMOOTHING_MM = 6.0
"""Gaussian sigma (in-plane and along z) of the local-variance map."""
AXIAL_LAGS = 3
"""Slice lags whose noise correlation is measured (cone-beam noise is correlated over a few slices)."""
SIGNIFICANT_SE = 4.0
"""An axial correlation counts only when it exceeds this many standard errors (else the slices are independent)."""


def patch_starts(length: int, patch: int) -> np.ndarray:
    """Start indices of half-overlapping patches covering ``length`` pixels (the last one flush with the end)."""
    if length <= patch:
        return np.zeros(1, dtype=int)
    count = int(np.ceil((length - patch) / (patch / 2))) + 1
    return np.round(np.linspace(0, length - patch, count)).astype(int)


@dataclass(frozen=True)
class PatchGrid:
    """Where local NPS are estimated: square in-plane patches of ``patch_px`` and slabs of ``slab_slices``."""

    patch_px: int
    slab_slices: int
    slices: int
    y_starts: tuple[int, ...]
    x_starts: tuple[int, ...]
    slab_starts: tuple[int, ...]

    @classmethod
    def for_volume(cls, shape: tuple[int, int, int], spacing_mm: tuple[float, float, float],
                   patch_mm: float = PATCH_MM, slab_mm: float = SLAB_MM) -> "PatchGrid":
        """Patches of about ``patch_mm`` (16 to 64 pixels, even) and slabs of about ``slab_mm``."""
        nz, ny, nx = shape
        pixel_mm = min(spacing_mm[0], spacing_mm[1])
        patch = int(np.clip(2 * round(patch_mm / pixel_mm / 2), 16, 64))
        patch = min(patch, ny, nx) // 2 * 2
        slab = int(np.clip(round(slab_mm / spacing_mm[2]), 1, nz))
        slab_starts = np.arange(0, nz, slab)
        return cls(patch, slab, nz, tuple(patch_starts(ny, patch)), tuple(patch_starts(nx, patch)), tuple(slab_starts))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(slabs, patch rows, patch columns)."""
        return len(self.slab_starts), len(self.y_starts), len(self.x_starts)

    def centres(self, axis: int) -> np.ndarray:
        """Patch (axis 1, 2) or slab (axis 0) centres in voxel coordinates."""
        if axis == 0:
            starts = np.asarray(self.slab_starts)
            return starts + (np.minimum(self.slab_slices, self.slices - starts) - 1) / 2
        return np.asarray(self.y_starts if axis == 1 else self.x_starts) + (self.patch_px - 1) / 2


def helmert_contrast(running_sum: np.ndarray, realization: np.ndarray, count: int) -> np.ndarray:
    """The k-th Helmert contrast (x_1 + ... + x_k - k x_{k+1}) / sqrt(k (k + 1)): pure noise of one realization.

    ``running_sum`` holds the sum of the ``count`` = k realizations seen before ``realization``.
    Contrasts of independent, identically distributed realizations are independent, zero-mean and
    have the covariance of one realization's noise.
    """
    return (running_sum - np.float32(count) * realization) * np.float32(1.0 / np.sqrt(count * (count + 1.0)))


class NoiseStatistics:
    """Running sums of noise samples of one dose level: variance, patch NPS, axial correlation."""

    def __init__(self, grid: PatchGrid, shape: tuple[int, int, int]):
        self.grid, self.shape, self.samples = grid, shape, 0
        self.square_sum = np.zeros(shape, np.float32)
        self.power_sum = np.zeros(grid.shape + (grid.patch_px, grid.patch_px), np.float32)
        self.lag_products = np.zeros((AXIAL_LAGS + 1, shape[0]), np.float64)
        self.window = np.outer(np.hanning(grid.patch_px), np.hanning(grid.patch_px)).astype(np.float32)

    def add(self, noise: np.ndarray) -> None:
        """Accumulate one noise sample ``[z, y, x]`` in HU."""
        self.samples += 1
        noise = np.asarray(noise, np.float32)
        self.square_sum += np.square(noise)
        for lag in range(AXIAL_LAGS + 1):
            products = (noise[lag:] * noise[:noise.shape[0] - lag]).mean(axis=(1, 2), dtype=np.float64)
            self.lag_products[lag, :products.size] += products
        g, p = self.grid, self.grid.patch_px
        rows, columns = np.ix_(g.y_starts, g.x_starts)
        for z in range(noise.shape[0]):
            patches = sliding_window_view(noise[z], (p, p))[rows, columns]
            spectrum = scipy.fft.fft2(patches * self.window, workers=-1)
            self.power_sum[z // g.slab_slices] += spectrum.real ** 2 + spectrum.imag ** 2

    def local_sd(self, spacing_mm: tuple[float, float, float],
                 smoothing_mm: float = VARIANCE_SMOOTHING_MM) -> np.ndarray:
        """Local noise SD (HU) per voxel: the root of the variance Gaussian-smoothed with sigma ``smoothing_mm``.

        Computed in place of the running sum of squares (to spare memory): call it once, after the last sample.
        """
        sigma = [smoothing_mm / spacing_mm[2], smoothing_mm / spacing_mm[1], smoothing_mm / spacing_mm[0]]
        variance = self.square_sum
        variance /= np.float32(self.samples)
        gaussian_filter(variance, sigma, output=variance, mode="nearest")
        self.square_sum = None
        return np.sqrt(variance, out=variance)

    def patch_sd(self) -> np.ndarray:
        """Noise SD in HU per (slab, patch row, patch column), Hann-weighted over the patch (Parseval)."""
        starts = np.asarray(self.grid.slab_starts)
        slices = np.minimum(self.grid.slab_slices, self.shape[0] - starts)[:, None, None]
        return np.sqrt(self.power_sum.mean(axis=(-2, -1)) / (self.samples * slices)) / np.linalg.norm(self.window)

    def nps_shapes(self) -> np.ndarray:
        """Local NPS per (slab, patch row, patch column), over the patch's fft2 frequencies, mean 1.

        A white noise filtered by the square root of a shape has unit variance (Parseval).
        """
        return self.power_sum / np.maximum(self.power_sum.mean(axis=(-2, -1), keepdims=True), 1e-30)

    def axial_correlation(self) -> np.ndarray:
        """Noise correlation coefficients at slice lags 0..AXIAL_LAGS (lag 0 = 1); insignificant ones are 0.

        Each lag's coefficient is the mean over slice pairs of the in-plane averaged products,
        over the lag-0 mean; its standard error comes from the spread over slice pairs.
        """
        nz = self.shape[0]
        variance = self.lag_products[0].mean()
        correlation = np.zeros(AXIAL_LAGS + 1)
        correlation[0] = 1.0
        for lag in range(1, min(AXIAL_LAGS, nz - 2) + 1) if variance > 0 else ():
            per_pair = self.lag_products[lag, :nz - lag] / variance
            standard_error = per_pair.std(ddof=1) / np.sqrt(per_pair.size)
            if abs(per_pair.mean()) > SIGNIFICANT_SE * standard_error:
                correlation[lag] = per_pair.mean()
        return correlation
