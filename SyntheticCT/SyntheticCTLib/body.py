"""Body outline and the unlabelled tissue classes that complete a label map.

Tsanda et al., synthetic data #2: voxels outside every label are split into air by
a threshold and into two tissue classes by k-means. With the CT at hand this is done
on its HU values (:func:`tissue_classes_from_ct`); from a label map alone the body is
the outline the labels imply (their convex hull per slice plus a margin: air comes from
the label map itself) and the two classes are k-means clusters of a procedural texture
(:func:`tissue_classes_from_labels`).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.cluster.vq import kmeans2
from scipy.spatial import ConvexHull

from SyntheticCTLib.textures import multi_octave_noise

AIR_THRESHOLD_HU = -500.0
"""Unlabelled voxels below this are air (outside the body, bowel gas, lung not labelled)."""

BODY_MARGIN_MM = (5.0, 25.0)
"""Range of the random width of tissue (fat, skin) between the labels' outline and the air."""
BODY_SLAB_MM = 30.0
"""The body outline of a slice encloses the labels within this distance along z (organs end, the body not)."""

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


def body_from_labels(labels: np.ndarray, spacing_mm: tuple[float, float, float], rng: np.random.Generator,
                     margin_mm: tuple[float, float] = BODY_MARGIN_MM, slab_mm: float = BODY_SLAB_MM) -> np.ndarray:
    """The body outline the label map itself implies: per slice, the convex hull of the labels within
    ``slab_mm`` along z, widened by a random margin in ``margin_mm`` (fat and skin outside the labels).

    Outside it is air, so a map whose labels fill the field of view gives a body that fills it too;
    slices with no label within the slab are all air. Without any label: a central cylinder.
    """
    labelled = labels > 0
    if not labelled.any():
        return cylinder_mask(labels.shape, (labels.shape[1] / 2, labels.shape[2] / 2),
                             (labels.shape[1] / 3, labels.shape[2] / 3))
    spacing_x, spacing_y, spacing_z = spacing_mm
    margin = rng.uniform(*margin_mm)
    corners = [_extreme_corners_mm(axial, spacing_y, spacing_x) for axial in labelled]
    rows, columns = np.meshgrid(np.arange(labels.shape[1]) * spacing_y, np.arange(labels.shape[2]) * spacing_x,
                                indexing="ij")
    grid_mm = np.stack([rows.ravel(), columns.ravel()], axis=1)
    reach = int(slab_mm // spacing_z)
    body = np.zeros(labels.shape, dtype=bool)
    for index in range(labels.shape[0]):
        points = [c for c in corners[max(0, index - reach): index + reach + 1] if c.size]
        if points:
            hull = ConvexHull(np.concatenate(points))
            inside = np.all(grid_mm @ hull.equations[:, :2].T + hull.equations[:, 2] <= margin, axis=1)
            body[index] = inside.reshape(labels.shape[1:])
    return body


def _extreme_corners_mm(axial: np.ndarray, spacing_y: float, spacing_x: float) -> np.ndarray:
    """Corners (mm) of the first and last labelled voxel of every row of a slice: all the convex hull needs."""
    rows = np.flatnonzero(axial.any(axis=1))
    if rows.size == 0:
        return np.empty((0, 2))
    first = axial[rows].argmax(axis=1)
    last = axial.shape[1] - 1 - axial[rows, ::-1].argmax(axis=1)
    centres = np.concatenate([np.stack([rows, first], 1), np.stack([rows, last], 1)]).astype(np.float64)
    offsets = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])
    return ((centres[:, None, :] + offsets[None]) * (spacing_y, spacing_x)).reshape(-1, 2)


def tissue_classes_from_labels(labels: np.ndarray, spacing_mm: tuple[float, float, float],
                               rng: np.random.Generator) -> np.ndarray:
    """Tissue classes without a CT: air outside :func:`body_from_labels`, inside two k-means clusters of value noise."""
    classes = np.full(labels.shape, LABELLED, dtype=np.int8)
    unlabelled = labels == 0
    inside = unlabelled & body_from_labels(labels, spacing_mm, rng)
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
