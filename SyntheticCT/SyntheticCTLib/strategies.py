"""The three synthesis strategies of Tsanda et al., "Learning CT Segmentation from Label Masks Only".

* ``single`` (synthetic data #1): a body cylinder of random radius filled with a texture
  histogram-matched to the body region of a reference CT; each label's voxels set to
  one constant drawn from the label's Gaussian N(mean_hu, sd_hu).
* ``constant`` (#2): unlabelled voxels split into air and two k-means classes
  (:mod:`.body`); every class and label filled with one constant from its own Gaussian:
  a piecewise-constant CT.
* ``texture`` (#3): as #2, but each region is filled with a texture histogram-matched to
  N(c, sd_hu), c drawn as in #2.

The noise-free object holds no value below air (-1000 HU): lower draws are raised to air.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from LowDoseRobustnessLib.simulation.attenuation import AIR_HU
from LowDoseRobustnessLib.volume import Volume

from SyntheticCTLib.body import cylinder_mask
from SyntheticCTLib.hu_statistics import BODY_PROBABILITIES, UNLABELLED_NAMES, HUStatistics, TissueStatistics
from SyntheticCTLib.textures import match_gaussian, match_quantiles, multi_octave_noise

LabelTissues = dict[int, TissueStatistics]
"""HU statistics per label value of the label map being synthesised."""

REGION_FEATURE_MM = 30.0
"""Coarsest texture scale inside a region of the texture strategy, finer than the single strategy's 80 mm body."""


def _fill(hu: np.ndarray, mask: np.ndarray, tissue: TissueStatistics, rng: np.random.Generator,
          spacing_mm: tuple[float, float, float], textured: bool) -> None:
    """Set ``hu[mask]`` to c ~ N(mean, sd^2), or to a texture histogram-matched to N(c, sd^2)."""
    level = rng.normal(tissue.mean_hu, tissue.sd_hu)
    if not textured:
        hu[mask] = level
        return
    box = ndimage.find_objects(mask.astype(np.int8))[0]
    noise = multi_octave_noise(hu[box].shape, spacing_mm, rng, feature_size_mm=REGION_FEATURE_MM)
    inside = mask[box]
    hu[box][inside] = match_gaussian(noise[inside], level, tissue.sd_hu)


def _fill_labels(hu: np.ndarray, labels: np.ndarray, tissues: LabelTissues, rng: np.random.Generator,
                 spacing_mm: tuple[float, float, float], textured: bool) -> None:
    for value, tissue in sorted(tissues.items()):
        mask = labels == value
        if mask.any():
            _fill(hu, mask, tissue, rng, spacing_mm, textured)


def single_label(labels: Volume, tissues: LabelTissues, statistics: HUStatistics, rng: np.random.Generator,
                 radius_fraction: tuple[float, float] = (0.6, 1.0)) -> Volume:
    """#1: air around a cylinder (radius a random fraction of half the smaller in-plane extent) of body texture, labels pasted as constants."""
    shape = labels.array.shape
    spacing_x, spacing_y, _ = labels.spacing
    radius_mm = rng.uniform(*radius_fraction) * min(shape[1] * spacing_y, shape[2] * spacing_x) / 2
    body = cylinder_mask(shape, (shape[1] / 2, shape[2] / 2), (radius_mm / spacing_y, radius_mm / spacing_x))
    hu = np.full(shape, AIR_HU, dtype=np.float32)
    texture = multi_octave_noise(shape, labels.spacing, rng)
    hu[body] = match_quantiles(texture[body], BODY_PROBABILITIES, statistics.body_quantiles_hu)
    _fill_labels(hu, labels.array, tissues, rng, labels.spacing, textured=False)
    return labels.with_array(np.maximum(hu, AIR_HU))


def all_labels(labels: Volume, tissue_classes: np.ndarray, tissues: LabelTissues, statistics: HUStatistics,
               rng: np.random.Generator, textured: bool) -> Volume:
    """#2 (``textured=False``) and #3: unlabelled classes (:mod:`.body`) and every label filled from its own Gaussian."""
    hu = np.full(labels.array.shape, AIR_HU, dtype=np.float32)
    for cls, name in UNLABELLED_NAMES.items():
        mask = tissue_classes == cls
        if mask.any():
            _fill(hu, mask, statistics.tissue(name), rng, labels.spacing, textured)
    _fill_labels(hu, labels.array, tissues, rng, labels.spacing, textured)
    return labels.with_array(np.maximum(hu, AIR_HU))
