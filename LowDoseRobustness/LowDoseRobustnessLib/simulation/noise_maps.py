"""Local noise statistics of CT volumes ``[z, y, x]``: smooth variance maps, noise from slice differences, spectra.

CT noise is not stationary: behind more attenuation (the centre of a body, along its long
axis) the variance is several times that near the skin. Statistics are therefore local:
Gaussian-weighted means over :data:`MAP_SIGMA_MM` in-plane and :data:`MAP_SIGMA_SLICES` along z.

The noise of a volume is measured from second differences across slices,
(x[k-1] - 2 x[k] + x[k+1]) / sqrt(6): anatomy that changes linearly along z cancels, fixed
patterns common to all slices cancel, and noise that is independent from slice to slice
(fan-beam slices; contiguous, non-overlapping reconstructions) keeps its variance and its
in-plane power spectrum. Anatomy that changes between slices does not cancel; it gives large
differences in a minority of places, which robust statistics leave out (:func:`noise_scale_map`).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import ndimage

from LowDoseRobustnessLib.errors import InputError

MAP_SIGMA_MM = 12.0
"""In-plane SD of the Gaussian window of local statistics: a few noise-correlation lengths, well
below the ~100 mm over which noise variance changes across a body."""
MAP_SIGMA_SLICES = 1.5
NOISE_BANDS = 3
"""Radial frequency bands of equal width up to the grid's Nyquist frequency, for per-band accounting."""
BAND_SIGMAS_MM = (30.0, 12.0, 8.0)
"""In-plane window of each band's local statistics (and block of its noise scale map): low frequencies
are correlated over longer distances, so their variance needs a wider window for the same precision."""
CLIP_SDS = 3.0
CLIPPED_GAUSSIAN_VARIANCE = 0.97330
"""E[z^2 | |z| < 3] for a standard normal z: the variance left after clipping at 3 SD."""
CHI2_MEDIAN = 0.45494
"""Median of z^2 for a standard normal z."""
SLAB_SLICES = 32
HALO_SLICES = 8
"""Local statistics are computed slab by slab (memory), each slab with this many neighbouring slices on
either side: more than the reach of the slice differences and 4 SDs of :data:`MAP_SIGMA_SLICES`."""
SCALE_BLOCK_MM = 16.0
SCALE_SIGMA_MM = 32.0
MIN_BLOCK_PIXELS = 10
"""Blocks and smoothing of the noise scale map: the input's noise level relative to this chain's
changes over the body slowly (bowtie filters, tube current modulation), anatomy in slice
differences changes fast and is left out block by block. A block of fewer than 10 x 10 pixels holds
too few independent noise samples: noise alone would double it too often to tell it from anatomy."""


def by_slabs(function, *volumes: np.ndarray, slab: int = SLAB_SLICES, halo: int = HALO_SLICES):
    """``function(*volumes)`` computed slab of slices by slab, each with a halo of neighbouring slices, stitched.

    For local statistics (whose reach along z is below the halo) the result is that of the whole volume,
    at the memory of one slab. ``function`` returns an array or a list of arrays ``[z, ...]``.
    """
    n_slices = volumes[0].shape[0]
    outputs, single = None, False
    for start in range(0, n_slices, slab):
        low, high = max(0, start - halo), min(n_slices, start + slab + halo)
        result = function(*(volume[low:high] for volume in volumes))
        single = not isinstance(result, list)
        parts = [result] if single else result
        if outputs is None:
            outputs = [np.empty((n_slices,) + part.shape[1:], part.dtype) for part in parts]
        stop = min(start + slab, n_slices)
        for output, part in zip(outputs, parts):
            output[start:stop] = part[start - low:stop - low]
    return outputs[0] if single else outputs


def upsample(coarse: np.ndarray, block: int, shape: tuple[int, int]) -> np.ndarray:
    """A map of ``block`` x ``block`` cells per slice interpolated linearly to pixels (cell centres at block
    centres, edges extended), cropped to ``shape``; float32."""
    cells = torch.from_numpy(np.ascontiguousarray(coarse, dtype=np.float32))[:, None]
    fine = torch.nn.functional.interpolate(cells, scale_factor=block, mode="bilinear", align_corners=False)
    return np.ascontiguousarray(fine[:, 0, :shape[0], :shape[1]].numpy())


def smooth_map(values: np.ndarray, spacing_mm, sigma_mm: float = MAP_SIGMA_MM,
               sigma_slices: float = MAP_SIGMA_SLICES) -> np.ndarray:
    """Gaussian-weighted local mean of ``values`` ``[z, y, x]`` (float32).

    Computed on a grid coarsened by block means (block of about a third of sigma), then
    interpolated back linearly: the same result as a full-resolution filter for maps this smooth.
    """
    values = np.asarray(values, dtype=np.float32)
    nz, ny, nx = values.shape
    block = max(1, int(sigma_mm / max(spacing_mm[0], spacing_mm[1]) / 3))
    py, px = -ny % block, -nx % block
    padded = np.pad(values, ((0, 0), (0, py), (0, px)), mode="edge")
    coarse = padded.reshape(nz, padded.shape[1] // block, block, padded.shape[2] // block, block).mean((2, 4))
    sigma = (sigma_slices if nz > 1 else 0.0, sigma_mm / (spacing_mm[1] * block), sigma_mm / (spacing_mm[0] * block))
    return upsample(ndimage.gaussian_filter(coarse, sigma, mode="nearest"), block, (ny, nx))


def local_mean_variance(noise: np.ndarray, spacing_mm) -> tuple[np.ndarray, np.ndarray]:
    """Local mean and variance maps of a pure-noise volume (e.g. noisy minus noiseless)."""
    mean = smooth_map(noise, spacing_mm)
    variance = smooth_map(np.square(noise, dtype=np.float32), spacing_mm) - mean ** 2
    return mean, np.maximum(variance, 0.0)


def split_bands(images: np.ndarray, spacing_mm, bands: int = NOISE_BANDS) -> list[np.ndarray]:
    """``images`` ``[z, y, x]`` split into in-plane radial frequency bands (sharp edges at k/bands of the
    grid's Nyquist frequency; the last band takes the corners above it). The bands sum to the images,
    and for noise that is locally stationary they are uncorrelated: their variances add up."""
    images = np.asarray(images, dtype=np.float32)
    _, ny, nx = images.shape
    fy, fx = np.meshgrid(np.fft.fftfreq(ny, spacing_mm[1]), np.fft.rfftfreq(nx, spacing_mm[0]), indexing="ij")
    band_index = np.minimum((np.hypot(fx, fy) * 2 * max(spacing_mm[:2]) * bands).astype(int), bands - 1)
    spectrum = torch.fft.rfft2(torch.from_numpy(images))
    bands_below = [torch.fft.irfft2(spectrum * torch.from_numpy(band_index == band), s=(ny, nx)).numpy()
                   for band in range(bands - 1)]
    return bands_below + [images - sum(bands_below)]


def slice_differences(volume: np.ndarray, slices: np.ndarray | None = None) -> np.ndarray:
    """Noise-only images: second differences across slices / sqrt(6) (first / sqrt(2) for two slices).

    One image per slice of ``volume`` (or per index in ``slices``); an end slice takes its
    neighbour's difference.
    """
    volume = np.asarray(volume)
    nz = volume.shape[0]
    if nz < 2:
        raise InputError("the noise of a single slice cannot be measured from slice differences; give at least "
                         "two slices, or declare the input noise-free (--input-noise none)")
    slices = np.arange(nz) if slices is None else np.asarray(slices)
    if nz == 2:
        difference = (volume[1].astype(np.float32) - volume[0]) / np.float32(np.sqrt(2.0))
        return np.repeat(difference[None], slices.size, axis=0)
    centre = np.clip(slices, 1, nz - 2)
    return ((volume[centre - 1].astype(np.float32) - 2 * volume[centre] + volume[centre + 1])
            / np.float32(np.sqrt(6.0)))


def row_medians(values: np.ndarray) -> np.ndarray:
    """Median along the last axis ignoring NaN (the lower middle value for even counts; NaN for none).

    A sort of the rows with NaN as +inf: much faster than ``np.nanmedian`` along an axis.
    """
    finite = np.isfinite(values)
    ordered = np.sort(np.where(finite, values, np.inf), axis=-1)
    count = finite.sum(axis=-1)
    middle = np.take_along_axis(ordered, (np.maximum(count - 1, 0) // 2)[..., None], axis=-1)[..., 0]
    return np.where(count > 0, middle, np.nan)


def robust_noise_ratio(squared_differences: np.ndarray, reference_variance: np.ndarray,
                       reference_squares: np.ndarray | None = None, axis=None,
                       first_estimate: np.ndarray | None = None) -> np.ndarray:
    """kappa = var(input noise) / var(reference noise), from the input's squared slice differences D^2.

    For Gaussian noise D^2 = kappa V chi^2_1, V the reference's local variance: the median of D^2 / V
    over 0.4549 estimates kappa; the voxels with D^2 below 9 kappa V (3 SD) then give
    kappa = sum D^2 / (0.9733 sum R), R = ``reference_squares`` (default V): sums, not a mean of
    ratios, which a noisy V would bias. Differences from anatomy are large and few: they fall above
    the clip. ``first_estimate`` replaces the median step (it must be precise: a low one clips noise).
    NaN entries (outside the region) are ignored; no noise gives 0.
    """
    reference_squares = reference_variance if reference_squares is None else reference_squares
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
        first = (np.nanmedian(squared_differences / reference_variance, axis=axis, keepdims=True) / CHI2_MEDIAN
                 if first_estimate is None else first_estimate)
        kept = squared_differences <= CLIP_SDS ** 2 * first * reference_variance
        reference = np.nansum(np.where(kept, reference_squares, 0.0), axis=axis, keepdims=True)
        scale = np.nansum(np.where(kept, squared_differences, 0.0), axis=axis, keepdims=True) / (
            CLIPPED_GAUSSIAN_VARIANCE * reference)
    return np.squeeze(np.nan_to_num(scale, nan=0.0, posinf=0.0), axis=axis)


def noise_scale_map(differences: np.ndarray, reference_variance: np.ndarray, region: np.ndarray,
                    spacing_mm, block_mm: float = SCALE_BLOCK_MM, sigma_mm: float = SCALE_SIGMA_MM) -> np.ndarray:
    """kappa(x): the input's noise variance over ``reference_variance`` (a smooth local variance map).

    kappa V is the input's local noise variance; where smoothing has flattened a peak of V, kappa
    rises by as much. Per block of :data:`SCALE_BLOCK_MM` in-plane (per slice) with at least a
    quarter of its voxels in ``region``: :func:`robust_noise_ratio`. Blocks above twice their slice's median block are
    dominated by anatomy and left out; the others are smoothed (normalised Gaussian of
    :data:`SCALE_SIGMA_MM` in-plane, :data:`MAP_SIGMA_SLICES` along z) and interpolated back.
    Where no block informs the map, it takes the median of all blocks.
    """
    nz, ny, nx = differences.shape
    block = max(MIN_BLOCK_PIXELS, round(block_mm / max(spacing_mm[0], spacing_mm[1])))
    pad = ((0, 0), (0, -ny % block), (0, -nx % block))
    grid = (nz, (ny + pad[1][1]) // block, (nx + pad[2][1]) // block)

    def blocks(values):
        values = np.pad(np.where(region, values, np.nan).astype(np.float32), pad, constant_values=np.nan)
        return values.reshape(grid[0], grid[1], block, grid[2], block).transpose(0, 1, 3, 2, 4).reshape(grid + (-1,))

    squared, variance = blocks(np.square(differences)), blocks(np.maximum(reference_variance, 1e-30))
    informed = np.sum(np.isfinite(squared), axis=-1) >= block * block / 4
    if not np.any(informed):
        return np.zeros(differences.shape, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # uninformed blocks and slices
        medians = np.where(informed, row_medians(squared / variance), np.nan)
        medians = np.where(informed, medians, np.nanmedian(medians, axis=(1, 2), keepdims=True))
        first = ndimage.median_filter(np.nan_to_num(medians), size=(1, 3, 3), mode="nearest") / CHI2_MEDIAN
        scale = np.full(grid, np.nan, np.float32)
        scale[informed] = robust_noise_ratio(squared[informed], variance[informed], axis=-1,
                                             first_estimate=first[informed][:, None])
        informed &= scale <= 2.0 * np.nanmedian(scale, axis=(1, 2), keepdims=True)
    weight = informed.astype(np.float32)
    sigma = (MAP_SIGMA_SLICES if nz > 1 else 0.0, sigma_mm / (block * spacing_mm[1]), sigma_mm / (block * spacing_mm[0]))
    total = ndimage.gaussian_filter(weight, sigma, mode="nearest")
    smooth = ndimage.gaussian_filter(np.where(informed, scale, 0.0).astype(np.float32), sigma, mode="nearest")
    coarse = np.where(total > 1e-3, smooth / np.maximum(total, 1e-3), np.nanmedian(scale[informed]))
    return upsample(coarse, block, (ny, nx))


def radial_noise_power_spectrum(noise: np.ndarray, spacing_mm, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in 1/mm, radially averaged 2D NPS) of noise images ``[z, y, x]`` inside ``weights``.

    NPS(f) = dx dy |FFT(w n)|^2 / sum(w^2), averaged over slices and over rings of width 1/(N dx);
    ``weights`` ``[y, x]`` or ``[z, y, x]`` select (and taper) the region. The NPS integrates
    over the 2D frequency plane to the weighted noise variance.
    """
    noise = np.asarray(noise, dtype=np.float32)
    weights = np.broadcast_to(np.asarray(weights, dtype=np.float32), noise.shape)
    _, ny, nx = noise.shape
    sx, sy = spacing_mm[0], spacing_mm[1]
    power = np.zeros((ny, nx))
    total_weight = 0.0
    for image, weight in zip(noise, weights):
        if weight.sum() <= 0:
            continue
        centred = (image - np.sum(image * weight) / weight.sum()) * weight
        power += np.abs(np.fft.fft2(centred)) ** 2
        total_weight += float(np.sum(weight ** 2))
    if total_weight == 0:
        raise InputError("no voxels to measure the noise power spectrum in")
    power *= sx * sy / total_weight
    fy, fx = np.meshgrid(np.fft.fftfreq(ny, sy), np.fft.fftfreq(nx, sx), indexing="ij")
    radius = np.hypot(fx, fy)
    step = 1.0 / (max(ny, nx) * max(sx, sy))
    rings = np.rint(radius / step).astype(np.int64)
    counts = np.bincount(rings.ravel())
    nps = np.bincount(rings.ravel(), power.ravel()) / np.maximum(counts, 1)
    frequencies = np.arange(nps.size) * step
    inside = (frequencies <= 0.5 / max(sx, sy)) & (counts > 0)
    return frequencies[inside], nps[inside]
