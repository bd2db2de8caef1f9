"""Procedural textures and histogram matching (stand-in for the paper's natural videos).

Tsanda et al. fill the body and the labels with histogram-matched frames of natural
videos; no video data is available here, so textures are multi-octave value noise
(random lattices, trilinearly interpolated, halving the feature size and the
amplitude per octave), then mapped onto a target HU distribution by quantile mapping.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.stats import norm


def multi_octave_noise(shape: tuple[int, int, int], spacing_mm: tuple[float, float, float], rng: np.random.Generator,
                       feature_size_mm: float = 80.0, octaves: int = 4, persistence: float = 0.5) -> np.ndarray:
    """Value noise of shape ``[z, y, x]``: octave k has lattice cells of feature_size/2^k mm and amplitude persistence^k.

    ``spacing_mm`` is (x, y, z). Returned with zero mean and unit SD (a constant 0 for a single voxel).
    """
    spacing_zyx = tuple(reversed(spacing_mm))
    total = np.zeros(shape, dtype=np.float32)
    for octave in range(octaves):
        cell_mm = feature_size_mm / 2 ** octave
        lattice_shape = [math.ceil(n * s / cell_mm) + 2 for n, s in zip(shape, spacing_zyx)]
        lattice = rng.standard_normal(lattice_shape).astype(np.float32)
        zoom = [n / m for n, m in zip(shape, lattice_shape)]
        smooth = ndimage.zoom(lattice, zoom, order=1, mode="nearest", grid_mode=True)
        total += persistence ** octave * smooth[: shape[0], : shape[1], : shape[2]]
    sd = float(total.std())
    return (total - total.mean()) / sd if sd > 0 else total - total.mean()


def _plotting_positions(values: np.ndarray) -> np.ndarray:
    """Rank of each value mapped to (0, 1): (rank + 1/2) / n; ties broken by position."""
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[np.argsort(values, axis=None, kind="stable")] = np.arange(values.size)
    return ((ranks + 0.5) / values.size).reshape(values.shape)


def match_quantiles(values: np.ndarray, probabilities: np.ndarray, quantiles_hu: np.ndarray) -> np.ndarray:
    """Histogram matching: each value replaced by the target quantile at its rank (piecewise-linear target CDF)."""
    return np.interp(_plotting_positions(values), probabilities, quantiles_hu).astype(np.float32)


def match_gaussian(values: np.ndarray, mean_hu: float, sd_hu: float) -> np.ndarray:
    """Histogram matching to N(mean, sd^2): the value at rank r becomes mean + sd * Phi^-1((r + 1/2) / n)."""
    return (mean_hu + sd_hu * norm.ppf(_plotting_positions(values))).astype(np.float32)
