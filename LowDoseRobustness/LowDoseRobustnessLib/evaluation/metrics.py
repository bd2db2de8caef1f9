"""Agreement of two label maps on one grid, label by label: Dice, HD95, surface Dice, volumes.

For one label, X is its mask in the reference map (full-dose prediction or ground truth)
and Y its mask in the test map (e.g. low-dose prediction); |.| counts voxels.

* **Dice** = 2 |X and Y| / (|X| + |Y|)  (Tsanda et al. 2024, eq. 5).
* **Boundary** dX = X minus its erosion by the 6-connected cross, with everything outside
  the grid counted as background: the voxels of X with a face neighbour outside X
  (MONAI ``get_mask_edges`` without sub-voxel edges; scipy ``binary_erosion`` default).
* **Directed distances** d(x, dY) for every x in dX: Euclidean distance in mm between voxel
  centres, using the physical spacing, to the nearest voxel of dY.
* **HD95** = max(P95{d(x, dY) : x in dX}, P95{d(y, dX) : y in dY})  (eq. 6), P95 the 95th
  percentile with linear interpolation (numpy default): the maximum of the two directed
  95th percentiles, as MONAI ``compute_hausdorff_distance(percentile=95)``, DeepMind
  surface-distance ``compute_robust_hausdorff(.., 95)`` and MetricsReloaded. It equals
  MONAI's value; surface-distance weighs surface elements by area and differs by less
  than one voxel diagonal. ``hd_percentile`` picks another percentile (100: Hausdorff).
* **hd95_vox**: the same with unit spacing, in voxels (Table 2 of the paper reports these:
  1.00, 1.41, 1.73 are the face, edge and corner neighbour distances).
* **Surface Dice** at tolerance t mm = (#{x in dX : d(x, dY) <= t} + #{y in dY : d(y, dX) <= t})
  / (|dX| + |dY|), counted per boundary voxel as MONAI ``compute_surface_dice``.
* **Volumes** in ml = voxel count x voxel volume (mm^3) / 1000; **effective radius**
  r_eff = (3V / 4 pi)^(1/3) in mm of the reference volume V (eq. 7).

Empty masks, reported in the ``status`` column:

* ``present_in_both``: the definitions above.
* ``only_in_reference`` (missed) / ``only_in_test`` (added): Dice 0, surface Dice 0,
  HD95 = inf (no boundary to measure to).
* ``absent_in_both`` (only for labels asked for explicitly): Dice 1, surface Dice 1,
  HD95 0 -- both maps agree that the structure is not there. Summaries leave such rows out.

Speed: all labels in one pass, no per-label mask or bounding box. Voxel counts come from
one bincount of each map; overlaps from the few voxels where the maps differ. Boundaries of
all labels come from three neighbour comparisons per map (a voxel is on the boundary of its
own label). A boundary voxel's distance to the other boundary of its label is looked for
first among its 26 neighbours, nearest first (distance 0: it lies on both boundaries); a hit
within twice the smallest spacing is exact, as every voxel outside the 3x3x3 cube is at
least that far. Voxels left over are looked up by k-d tree among the other boundary's
voxel centres in mm. The distances are exact Euclidean distances, as from a distance
transform with ``sampling=spacing``, at a cost proportional to the boundary, not the volume.
"""
from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pandas as pd
import torch
from scipy.spatial import cKDTree

from LowDoseRobustnessLib.io.validation import label_values
from LowDoseRobustnessLib.contract import (ABSENT_IN_BOTH, DEFAULT_SURFACE_TOLERANCE_MM, ONLY_IN_REFERENCE, ONLY_IN_TEST,
                                           PRESENT_IN_BOTH)
from LowDoseRobustnessLib.evaluation.label_grid import labels_on_reference_grid
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume

PARALLEL_QUERY_SIZE = 50_000
"""Nearest-neighbour queries of at least this many voxels use all cores (smaller ones: one thread)."""



def effective_radius_mm(volume_ml):
    """Radius of the sphere of volume V: r_eff = (3V / 4 pi)^(1/3), V in ml, r in mm (eq. 7)."""
    return np.cbrt(3.0 * np.asarray(volume_ml, dtype=float) * 1000.0 / (4.0 * np.pi))


def label_boundary(labels: np.ndarray) -> np.ndarray:
    """Boundary voxels of every non-zero label at once (see module docstring).

    A voxel is on the boundary of its own label when a face neighbour holds another
    label or the voxel lies on the border of the grid; per label this is the mask minus
    its 6-connected erosion.
    """
    return _boundary_labels_padded(labels)[1:-1, 1:-1, 1:-1] != 0


def _boundary_labels_padded(labels: np.ndarray) -> np.ndarray:
    """The label of each boundary voxel, 0 elsewhere, in the grid padded by one background voxel."""
    padded = np.pad(labels, 1)
    boundary = np.zeros(padded.shape, dtype=bool)
    for axis in range(padded.ndim):
        lower, upper = _along(axis, slice(None, -1)), _along(axis, slice(1, None))
        differs = padded[lower] != padded[upper]
        boundary[lower] |= differs
        boundary[upper] |= differs
    return np.multiply(padded, boundary, out=padded)


def compare_label_maps(reference: Volume, test: Volume, labels=None, names=None,
                       hd_percentile: float = 95.0,
                       surface_tolerance_mm: float = DEFAULT_SURFACE_TOLERANCE_MM,
                       hd_voxel_units: bool = False, resample: bool = False) -> pd.DataFrame:
    """Per-label agreement of ``test`` with ``reference``, one row per label.

    ``labels``: the label values to report; default every non-zero label present in either
    map. ``names``: {label: name} for the ``name`` column. ``hd_voxel_units``: also fill
    ``hd95_vox`` (otherwise NaN; on isotropic grids it is hd95_mm / spacing). ``resample``:
    resample ``test`` onto the reference grid by nearest neighbour when the grids differ
    (otherwise that is an :class:`InputError`).

    Columns: label, name, status, dice, hd95_mm, hd95_vox, surface_dice, volume_ref_ml,
    volume_test_ml, r_eff_mm (``hd95`` reads ``hd{hd_percentile}``); definitions in the
    module docstring.
    """
    if not 0.0 <= hd_percentile <= 100.0:
        raise InputError(f"the Hausdorff percentile must lie in [0, 100], got {hd_percentile}")
    reference_labels = _label_array(reference.array, "reference")
    test_labels = _label_array(labels_on_reference_grid(reference, test, resample), "test")
    counts = _LabelCounts(reference_labels, test_labels)
    requested = labels is not None
    labels = counts.present_labels() if labels is None else [int(label) for label in labels]
    if any(label <= 0 for label in labels):
        raise InputError(f"labels to compare must be positive (0 is background), got {labels}")
    absent = [label for label in labels if requested and not any(counts.of(label)[:2])]
    if absent:
        warnings.warn(f"label(s) {', '.join(map(str, absent))} are in neither map: their rows say absent_in_both "
                      "(Dice 1 and HD95 0 by convention, not a measured agreement)", stacklevel=2)
    surfaces = _Surfaces(reference_labels, test_labels)
    sampling_mm = np.array(reference.spacing[::-1])
    voxel_ml = float(np.prod(reference.spacing)) / 1000.0
    hd_column = f"hd{hd_percentile:g}"
    rows = []
    for label in labels:
        size_ref, size_test, size_both = counts.of(label)
        status = _status(size_ref, size_test)
        row = {"label": label, "name": (names or {}).get(label, ""), "status": status,
               "dice": 2.0 * size_both / (size_ref + size_test) if size_ref + size_test else 1.0,
               "volume_ref_ml": size_ref * voxel_ml, "volume_test_ml": size_test * voxel_ml}
        row[f"{hd_column}_mm"], row[f"{hd_column}_vox"], row["surface_dice"] = _surface_metrics(
            status, partial(surfaces.distances, label), sampling_mm,
            hd_percentile, surface_tolerance_mm, hd_voxel_units)
        rows.append(row)
    table = pd.DataFrame(rows, columns=["label", "name", "status", "dice", f"{hd_column}_mm", f"{hd_column}_vox",
                                        "surface_dice", "volume_ref_ml", "volume_test_ml"])
    table["r_eff_mm"] = effective_radius_mm(table["volume_ref_ml"])
    return table


def _along(axis: int, index) -> tuple:
    """Index tuple selecting ``index`` along ``axis`` of a 3D array."""
    return tuple(index if a == axis else slice(None) for a in range(3))


def _label_array(array: np.ndarray, role: str) -> np.ndarray:
    """Labels as non-negative integers (uint8 when they fit, for speed), checked by :func:`..io.validation.label_values`."""
    return label_values(array, f"the {role} map")


def _bincount(labels: np.ndarray) -> np.ndarray:
    """Voxel count per label value (torch's bincount: no int64 copy of a uint8 volume)."""
    return torch.bincount(torch.from_numpy(np.ascontiguousarray(labels).ravel())).numpy()


class _LabelCounts:
    """|X|, |Y| and |X and Y| of every label: one bincount of each map, and |X and Y| = |X| minus
    the reference voxels of X where the test holds another label (few: only where they differ)."""

    def __init__(self, reference: np.ndarray, test: np.ndarray):
        self.reference, self.test = _bincount(reference), _bincount(test)
        length = max(len(self.reference), len(self.test))
        self.reference, self.test = (np.pad(c, (0, length - len(c))) for c in (self.reference, self.test))
        differ = np.flatnonzero(reference != test)
        self.both = self.reference - np.bincount(reference.ravel()[differ], minlength=length)

    def present_labels(self) -> list[int]:
        return [int(label) for label in np.flatnonzero(self.reference + self.test) if label != 0]

    def of(self, label: int) -> tuple[int, int, int]:
        if label >= len(self.reference):
            return 0, 0, 0
        return int(self.reference[label]), int(self.test[label]), int(self.both[label])


class _Surfaces:
    """Boundary voxels of both maps, grouped by label, and their distances to the other boundary.

    Distances are found first among the 26 neighbours, nearest first: a hit at a distance up
    to twice the smallest spacing is exact, because every voxel outside the 3x3x3 cube is at
    least that far. The zero offset finds the voxels on both boundaries (distance 0). Voxels
    left over are looked up by k-d tree among the other boundary's voxels of their label.
    """

    def __init__(self, reference: np.ndarray, test: np.ndarray):
        with ThreadPoolExecutor(2) as pool:  # numpy releases the GIL: one map per core
            sides = list(pool.map(_boundary_voxels_by_label, (reference, test)))
        self.padded, self.voxels, self.labels, self.starts = (list(part) for part in zip(*sides))
        self._distances = {}

    def distances(self, label: int, sampling: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Directed distances d(x, dY) for x in dX and d(y, dX) for y in dY, in the units of ``sampling``."""
        key = tuple(sampling)
        if key not in self._distances:
            with ThreadPoolExecutor(2) as pool:
                self._distances[key] = list(pool.map(self._to_other_boundary, (0, 1), 2 * [np.asarray(sampling, float)]))
        return tuple(distances[self._span(side, label)] for side, distances in enumerate(self._distances[key]))

    def _span(self, side: int, label: int) -> slice:
        starts = self.starts[side]
        return slice(starts[label], starts[label + 1]) if label + 1 < len(starts) else slice(0, 0)

    def _to_other_boundary(self, side: int, sampling: np.ndarray) -> np.ndarray:
        voxels, labels, other = self.voxels[side], self.labels[side], self.padded[1 - side].ravel()
        distances = np.full(len(voxels), np.inf)
        pending = np.arange(len(voxels))
        strides = np.array(self.padded[side].strides) // self.padded[side].itemsize
        for offset, length in _neighbour_offsets(sampling):
            hit = other[voxels[pending] + strides @ offset] == labels[pending]
            distances[pending[hit]] = length
            pending = pending[~hit]
        for label in np.unique(labels[pending]):
            left = pending[labels[pending] == label]
            other_voxels = self.voxels[1 - side][self._span(1 - side, label)]
            tree = cKDTree(self._points(other_voxels, sampling), balanced_tree=False, compact_nodes=False)
            workers = -1 if len(left) >= PARALLEL_QUERY_SIZE else 1
            distances[left] = tree.query(self._points(voxels[left], sampling), workers=workers)[0]
        return distances

    def _points(self, padded_voxels: np.ndarray, sampling: np.ndarray) -> np.ndarray:
        return np.column_stack(np.unravel_index(padded_voxels, self.padded[0].shape)) * sampling


def _boundary_voxels_by_label(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Padded boundary-label map, its boundary voxels (flat, padded grid) sorted by label, their
    labels, and where each label's run starts. One voxel of padding spares bounds checks."""
    padded = _boundary_labels_padded(labels)
    voxels = np.flatnonzero(padded != 0)
    voxel_labels = padded.ravel()[voxels]
    order = np.argsort(voxel_labels, kind="stable")
    voxels, voxel_labels = voxels[order], voxel_labels[order]
    starts = np.searchsorted(voxel_labels, np.arange(int(voxel_labels.max(initial=0)) + 2))
    return padded, voxels, voxel_labels, starts


def _neighbour_offsets(sampling: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Offsets in the 3x3x3 cube, nearest first, up to twice the smallest spacing (the exact reach)."""
    cube = np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1], indexing="ij")).reshape(3, -1).T
    lengths = np.sqrt(((cube * sampling) ** 2).sum(axis=1))
    order = np.argsort(lengths, kind="stable")
    return [(cube[i], float(lengths[i])) for i in order if lengths[i] <= 2.0 * sampling.min()]


def _status(size_ref: int, size_test: int) -> str:
    if size_ref and size_test:
        return PRESENT_IN_BOTH
    if size_ref:
        return ONLY_IN_REFERENCE
    return ONLY_IN_TEST if size_test else ABSENT_IN_BOTH


def _surface_metrics(status: str, distances, sampling_mm: np.ndarray, percentile: float,
                     tolerance_mm: float, voxel_units: bool) -> tuple[float, float, float]:
    """HD in mm, HD in voxels (NaN unless ``voxel_units``) and surface Dice of one label;
    ``distances(sampling)`` gives its two directed distance arrays."""
    if status != PRESENT_IN_BOTH:
        hausdorff, surface_dice = (0.0, 1.0) if status == ABSENT_IN_BOTH else (np.inf, 0.0)
        return hausdorff, hausdorff if voxel_units else np.nan, surface_dice
    distances_mm = distances(sampling_mm)
    hausdorff_voxels = _hausdorff(distances(np.ones(3)), percentile) if voxel_units else np.nan
    return _hausdorff(distances_mm, percentile), hausdorff_voxels, _surface_dice(distances_mm, tolerance_mm)


def _hausdorff(distances: tuple[np.ndarray, np.ndarray], percentile: float) -> float:
    """Maximum of the two directed percentiles (eq. 6)."""
    return float(max(np.percentile(directed, percentile) for directed in distances))


def _surface_dice(distances: tuple[np.ndarray, np.ndarray], tolerance_mm: float) -> float:
    """Share of boundary voxels of both masks within ``tolerance_mm`` of the other boundary."""
    within = sum(int(np.count_nonzero(directed <= tolerance_mm)) for directed in distances)
    return within / sum(len(directed) for directed in distances)
