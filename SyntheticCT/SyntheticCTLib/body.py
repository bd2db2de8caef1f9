"""Body outline and the unlabelled tissue classes that complete a label map.

Tsanda et al., synthetic data #2: voxels outside every label are split into air by
a threshold and into two tissue classes by k-means. With the CT at hand this is done
on its HU values (:func:`tissue_classes_from_ct`); from a label map alone the body is
an elliptic cylinder around the labels and the two classes are k-means clusters of a
procedural texture (:func:`tissue_classes_from_labels`).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.cluster.vq import kmeans2

from SyntheticCTLib.textures import multi_octave_noise

AIR_THRESHOLD_HU = -500.0
"""Unlabelled voxels below this are air (outside the body, bowel gas, lung not labelled)."""

AIR, CLUSTER_LOW, CLUSTER_HIGH = 0, 1, 2
"""Tissue classes of unlabelled voxels; labelled voxels are marked :data:`LABELLED`."""
LABELLED = -1


def two_clusters(values: np.ndarray) -> np.ndarray:
    """1D k-means with k=2 (Lloyd, started at the 25th/75th percentiles): 1 for the lower, 2 for the higher cluster."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0 or np.ptp(values) == 0:
        return np.full(values.size, CLUSTER_LOW, dtype=np.int8)
    centres, assignment = kmeans2(values, np.percentile(values, [25.0, 75.0]), minit="matrix")
    high = int(np.argmax(centres))
    return np.where(assignment == high, CLUSTER_HIGH, CLUSTER_LOW).astype(np.int8)


def tissue_classes_from_ct(ct_hu: np.ndarray, labels: np.ndarray,
                           air_threshold_hu: float = AIR_THRESHOLD_HU) -> np.ndarray:
    """Per voxel: LABELLED, or for unlabelled voxels AIR (below the threshold) / CLUSTER_LOW / CLUSTER_HIGH (k-means)."""
    classes = np.full(labels.shape, LABELLED, dtype=np.int8)
    unlabelled = labels == 0
    tissue = unlabelled & (ct_hu >= air_threshold_hu)
    classes[unlabelled] = AIR
    classes[tissue] = two_clusters(ct_hu[tissue])
    return classes


def cylinder_mask(shape: tuple[int, int, int], centre_yx: tuple[float, float], radii_yx: tuple[float, float]) -> np.ndarray:
    """An elliptic cylinder along z: centre and semi-axes in voxels (row, column)."""
    rows, columns = np.ogrid[: shape[1], : shape[2]]
    ellipse = ((rows - centre_yx[0]) / radii_yx[0]) ** 2 + ((columns - centre_yx[1]) / radii_yx[1]) ** 2 <= 1.0
    return np.broadcast_to(ellipse, shape).copy()


def body_around_labels(labels: np.ndarray, rng: np.random.Generator, margin: tuple[float, float] = (1.1, 1.4)) -> np.ndarray:
    """An elliptic cylinder enclosing the labelled voxels' in-plane box, semi-axes scaled by a random factor in ``margin``."""
    if not labels.any():
        return cylinder_mask(labels.shape, (labels.shape[1] / 2, labels.shape[2] / 2),
                             (labels.shape[1] / 3, labels.shape[2] / 3))
    _, rows, columns = np.nonzero(labels)
    centre = ((rows.min() + rows.max()) / 2, (columns.min() + columns.max()) / 2)
    # the box's corners lie on an ellipse with semi-axes sqrt(2) x half-sides
    half_sides = ((rows.max() - rows.min()) / 2 + 1, (columns.max() - columns.min()) / 2 + 1)
    scale = np.sqrt(2.0) * rng.uniform(*margin)
    return cylinder_mask(labels.shape, centre, (half_sides[0] * scale, half_sides[1] * scale))


def tissue_classes_from_labels(labels: np.ndarray, spacing_mm: tuple[float, float, float],
                               rng: np.random.Generator) -> np.ndarray:
    """Tissue classes without a CT: air outside a body cylinder, inside two k-means clusters of value noise."""
    classes = np.full(labels.shape, LABELLED, dtype=np.int8)
    unlabelled = labels == 0
    inside = unlabelled & body_around_labels(labels, rng)
    classes[unlabelled] = AIR
    classes[inside] = two_clusters(multi_octave_noise(labels.shape, spacing_mm, rng)[inside])
    return classes


def body_mask(ct_hu: np.ndarray, air_threshold_hu: float = AIR_THRESHOLD_HU) -> np.ndarray:
    """The patient's body in a CT: the largest connected region above the air threshold, holes filled per slice."""
    components, count = ndimage.label(ct_hu >= air_threshold_hu)
    if count == 0:
        return np.zeros(ct_hu.shape, dtype=bool)
    sizes = ndimage.sum_labels(np.ones(ct_hu.shape), components, index=np.arange(1, count + 1))
    body = components == 1 + int(np.argmax(sizes))
    return np.stack([ndimage.binary_fill_holes(axial) for axial in body])
