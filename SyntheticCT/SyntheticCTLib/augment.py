"""Augmentations: label dropping (Tsanda et al.) and the CT-specific ones of Kloenne et al. 2020.

* Label drop: "with a 50 % chance a label is not pasted back" (Tsanda et al., sec. 2); a
  dropped label becomes unlabelled body, absent from both image and label map.
* Windowing: clip to the (0.6, 0.99) quantiles of the volume (Kloenne et al., "Image
  preprocessing"; the organ window).
* Cluster-wise voxel intensity range shift (CWVRS): the edges of the tissue windows are
  shifted at random and the HU between them rescaled linearly (Kloenne et al., "Image augmentation").
* Rotation about the scanner axis by a random angle, at most 16 degrees (Kloenne et al.).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import ndimage

from LowDoseRobustnessLib.simulation.attenuation import AIR_HU
from LowDoseRobustnessLib.errors import InputError

TISSUE_WINDOW_EDGES_HU = (-1024.0, -400.0, -150.0, -30.0, 100.0, 300.0, 1000.0, 3071.0)
"""Edges of the tissue windows shifted by CWVRS: lung/air, transition, fat, water and soft
tissue, enhanced soft tissue, cancellous bone, cortical bone. The outer two stay fixed."""
MAX_WINDOW_SHIFT_HU = 0.5 * float(np.min(np.diff(TISSUE_WINDOW_EDGES_HU)))


@dataclass(frozen=True)
class Augmentation:
    """drop_probability: chance that a label is left out. rotation_max_deg: Kloenne uses 16 (0 = off).
    window_quantiles: clip to these quantiles, Kloenne (0.6, 0.99) (None = off).
    intensity_shift_hu: CWVRS, largest shift of a window edge in HU (0 = off)."""

    drop_probability: float = 0.5
    rotation_max_deg: float = 0.0
    window_quantiles: Optional[tuple[float, float]] = None
    intensity_shift_hu: float = 0.0

    def __post_init__(self):
        if not 0.0 <= self.drop_probability <= 1.0:
            raise InputError(f"label drop probability must be in [0, 1], got {self.drop_probability}")
        if not 0.0 <= self.intensity_shift_hu <= MAX_WINDOW_SHIFT_HU:
            raise InputError(f"intensity range shift must be in [0, {MAX_WINDOW_SHIFT_HU:.0f}] HU "
                             f"(half the narrowest tissue window), got {self.intensity_shift_hu}")
        if self.window_quantiles is not None and not 0.0 <= self.window_quantiles[0] < self.window_quantiles[1] <= 1.0:
            raise InputError(f"window quantiles must satisfy 0 <= low < high <= 1, got {self.window_quantiles}")


def drop_labels(labels: np.ndarray, probability: float, rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """Each label value present is set to 0 (unlabelled) with ``probability``; returns the map and the dropped values."""
    values = [int(v) for v in np.unique(labels) if v > 0]
    dropped = [v for v, u in zip(values, rng.random(len(values))) if u < probability]
    return np.where(np.isin(labels, dropped), 0, labels).astype(labels.dtype), dropped


def rotate_axial(hu: np.ndarray, labels: np.ndarray, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotate image (linear, air fill) and labels (nearest) alike in every axial slice."""
    image = ndimage.rotate(hu, angle_deg, axes=(2, 1), reshape=False, order=1, cval=AIR_HU)
    return image.astype(hu.dtype), ndimage.rotate(labels, angle_deg, axes=(2, 1), reshape=False, order=0, cval=0)


def window_quantiles(hu: np.ndarray, low: float, high: float) -> np.ndarray:
    """Clip HU to the volume's ``low`` and ``high`` quantiles (Kloenne et al.: 0.6 and 0.99)."""
    return np.clip(hu, *np.quantile(hu, [low, high])).astype(hu.dtype)


def intensity_range_shift(hu: np.ndarray, max_shift_hu: float, rng: np.random.Generator,
                          edges_hu: tuple[float, ...] = TISSUE_WINDOW_EDGES_HU) -> np.ndarray:
    """CWVRS: inner window edges moved by U(-max, max) HU, HU in each window rescaled linearly to its moved window."""
    edges = np.asarray(edges_hu, dtype=np.float64)
    moved = edges.copy()
    moved[1:-1] += rng.uniform(-max_shift_hu, max_shift_hu, edges.size - 2)
    inside = (hu >= edges[0]) & (hu <= edges[-1])
    shifted = hu.copy()
    shifted[inside] = np.interp(hu[inside], edges, moved)
    return shifted
