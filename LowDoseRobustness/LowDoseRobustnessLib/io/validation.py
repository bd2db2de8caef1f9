"""The one input-validation layer: is this a CT in HU, is this a label map, does it fit in memory?

Every command that reads a CT (simulate, segment, study, synth-stats) and the Slicer logic
use :func:`read_ct` / :func:`check_ct`; label maps go through :func:`read_label_map` /
:func:`check_label_map`. Refusals are :class:`InputError` in words a physicist understands;
implausible but legal inputs give a :class:`UserWarning` (the command line shows it as one line).

A CT in HU has air near -1000 and soft tissue near 0..100, most voxels in [-1100, 3100]:
raw stored values (0..4095 without rescale), MR intensities, attenuation maps in 1/mm,
8-bit images and label maps each fail at least one check. NaN/inf voxels are refused, or
replaced by air with ``fix_nonfinite`` (and a warning).
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from LowDoseRobustnessLib.contract import AIR_HU
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.volumes import read_header, read_volume
from LowDoseRobustnessLib.volume import Volume

MIN_IN_PLANE_VOXELS = 8
PLAUSIBLE_SPACING_MM = (0.05, 20.0)
"""Voxel sizes outside this range are legal but suspicious (a header in cm or m?): a warning."""
MAX_LABELS = 1000
"""More distinct values than this is a CT (or other image), not a label map (TotalSegmentator has 117)."""
MAX_IN_PLANE_ANISOTROPY = 2.0
PERCENTILE_SAMPLE = 2_000_000


# --- reading -------------------------------------------------------------------------------------------------
def read_ct(path: str | Path, fix_nonfinite: bool = False, bytes_per_voxel: float = 0.0,
            purpose: str = "processing") -> Volume:
    """Read and check a CT (:func:`check_ct`); first refuse it when ``bytes_per_voxel`` x voxels will not fit in memory."""
    _check_fits(path, bytes_per_voxel, purpose)
    return check_ct(read_volume(path), str(path), fix_nonfinite)


def read_label_map(path: str | Path, grid: Volume | None = None, grid_name: str = "the CT",
                   bytes_per_voxel: float = 0.0, purpose: str = "processing") -> Volume:
    """Read and check a label map (:func:`check_label_map`), optionally on the grid of ``grid``."""
    _check_fits(path, bytes_per_voxel, purpose)
    return check_label_map(read_volume(path), str(path), grid, grid_name)


def _check_fits(path: str | Path, bytes_per_voxel: float, purpose: str) -> None:
    if bytes_per_voxel > 0:
        header = read_header(path)
        shape = " x ".join(map(str, header.shape))
        check_memory(header.voxels * bytes_per_voxel, f"{purpose} of {Path(path).name} ({shape} voxels)")


# --- CT ------------------------------------------------------------------------------------------------------
def check_ct(volume: Volume, name: str = "the CT", fix_nonfinite: bool = False) -> Volume:
    """The volume if it is a plausible CT in HU (non-finite voxels replaced by air with ``fix_nonfinite``)."""
    check_grid(volume, name)
    array = volume.array
    if array.dtype == bool or array.dtype.kind not in "iuf":
        raise InputError(f"{name} has voxel type {array.dtype}; a CT in Hounsfield units is needed")
    if _looks_like_labels(array):
        raise InputError(f"{name} holds only a few whole values from 0 to {array.max():g}: this looks like a label "
                         "map, not a CT in Hounsfield units")
    if array.dtype.itemsize == 1:
        raise InputError(f"{name} holds 8-bit values ({array.dtype}), which cannot be Hounsfield units "
                         "(-1000 for air to +3000 for bone); export the CT with its rescale slope/intercept applied")
    if array.dtype.kind == "f":
        nonfinite = ~np.isfinite(array)
        count = int(np.count_nonzero(nonfinite))
        if count and not fix_nonfinite:
            raise InputError(f"{name} holds {count:,} NaN or infinite voxels ({count / array.size:.2%}); "
                             "pass --fix-nonfinite (fix_nonfinite=True) to replace them by air (-1000 HU)")
        if count:
            warnings.warn(f"replaced {count:,} NaN or infinite voxels of {name} by air ({AIR_HU:g} HU)", stacklevel=2)
            volume = volume.with_array(np.where(nonfinite, np.asarray(AIR_HU, array.dtype), array))
    check_hu_values(volume.array, name)
    return volume


def check_finite(array: np.ndarray, name: str = "the volume") -> None:
    """Refuse NaN and infinite voxels (what every computation on voxel values needs)."""
    array = np.asarray(array)
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        raise InputError(f"{name} holds NaN or infinite voxels; replace them first (CLI: --fix-nonfinite)")


def check_hu_values(hu: np.ndarray, name: str = "the CT") -> None:
    """Refuse values that are not CT numbers in HU: MR, raw stored values, attenuation in 1/mm (finite values)."""
    values = np.asarray(hu)
    if values.size == 0:
        raise InputError(f"{name} is empty")
    p01, p50, p99 = np.percentile(_sample(values).astype(np.float64), [1, 50, 99])
    if p99 - p01 < 1.0:
        raise InputError(f"{name}: values span only {p01:.3g}..{p99:.3g}; this looks like attenuation in 1/mm or a "
                         "normalised image, not CT numbers in Hounsfield units")
    if p01 > -500:
        raise InputError(f"{name}: no air found (1st percentile {p01:.0f}); a CT in Hounsfield units has air near "
                         "-1000 HU. Is this an MR image or a CT stored without rescale slope/intercept?")
    if p01 < -1200 or p99 > 4000 or p50 > 2000:
        raise InputError(f"{name}: values outside the CT range (1st/50th/99th percentiles {p01:.0f}/{p50:.0f}/"
                         f"{p99:.0f}); expected Hounsfield units with air near -1000 and soft tissue near 0")


def _sample(values: np.ndarray) -> np.ndarray:
    """At most about :data:`PERCENTILE_SAMPLE` evenly strided voxels (enough for percentiles and value counts)."""
    return values.ravel()[:: max(1, values.size // PERCENTILE_SAMPLE)]


def _distinct_values(values: np.ndarray) -> int:
    return int(np.unique(_sample(values)).size)


def _looks_like_labels(values: np.ndarray) -> bool:
    """Whole numbers 0..MAX_LABELS with few distinct values: a label map (checked only when nothing is negative)."""
    sample = _sample(values)
    if sample.min() < 0 or values.max() > MAX_LABELS:
        return False
    if values.dtype.kind == "f" and not np.array_equal(sample, np.round(sample)):
        return False
    return _distinct_values(values) <= MAX_LABELS // 5


# --- label maps ----------------------------------------------------------------------------------------------
def check_label_map(volume: Volume, name: str = "the label map", grid: Volume | None = None,
                    grid_name: str = "the CT") -> Volume:
    """The label map with whole-number labels in the smallest integer type; optionally on ``grid``'s voxel grid."""
    check_grid(volume, name)
    if grid is not None and not volume.same_grid(grid):
        raise InputError(f"{name} is not on the voxel grid of {grid_name} ({_grid_text(volume)} vs "
                         f"{_grid_text(grid)}); resample it onto that grid first")
    return volume.with_array(label_values(volume.array, name))


def label_values(array: np.ndarray, name: str = "the label map") -> np.ndarray:
    """Labels as non-negative integers (uint8 when they fit); refuses fractions, negatives and CT-like maps."""
    array = np.asarray(array)
    if array.dtype == bool:
        return array.view(np.uint8)
    if array.dtype.kind not in "iuf":
        raise InputError(f"{name} has voxel type {array.dtype}; a label map of whole numbers is needed")
    if array.dtype.kind == "f" and not (np.all(np.isfinite(array)) and np.array_equal(array, np.round(array))):
        raise InputError(f"{name} holds fractional or non-finite values; a label map holds whole-number labels "
                         "(is this a CT or a probability map?)")
    if array.size and array.min() < 0:
        raise InputError(f"{name} holds negative values (down to {array.min():g}); labels are 0 (background) or "
                         "positive. Is this a CT given in place of a label map?")
    largest = int(array.max(initial=0))
    if largest >= 2**24 or (array.dtype.itemsize > 1 and _distinct_values(array) > MAX_LABELS):
        raise InputError(f"{name} holds more than {MAX_LABELS} different values (up to {largest}); a label map has "
                         "a few labels. Is this a CT given in place of a label map?")
    if array.dtype == np.uint8:
        return array
    return array.astype(np.uint8 if largest < 2**8 else np.int32)


# --- grid ----------------------------------------------------------------------------------------------------
def check_grid(volume: Volume, name: str) -> None:
    """Refuse empty or tiny volumes; warn about implausible voxel sizes, strongly unequal in-plane voxels, non-axial slices."""
    slices, rows, columns = volume.array.shape
    if volume.array.size == 0:
        raise InputError(f"{name} is empty (shape {volume.array.shape})")
    if min(rows, columns) < MIN_IN_PLANE_VOXELS:
        raise InputError(f"{name} has slices of {rows} x {columns} voxels; at least "
                         f"{MIN_IN_PLANE_VOXELS} x {MIN_IN_PLANE_VOXELS} are needed")
    low, high = PLAUSIBLE_SPACING_MM
    if not all(low <= s <= high for s in volume.spacing):
        warnings.warn(f"{name} has voxels of {_spacing_text(volume)} mm; is the spacing in the header in mm?",
                      stacklevel=3)
    sx, sy, _ = volume.spacing
    if max(sx, sy) / min(sx, sy) > MAX_IN_PLANE_ANISOTROPY:
        warnings.warn(f"{name} has in-plane voxels of {sx:g} x {sy:g} mm: unusual for axial CT slices "
                      "(a reformatted volume?)", stacklevel=3)
    if abs(volume.direction[8]) < 0.9:
        warnings.warn(f"{name}: its slices are not axial (slice normal {volume.direction[2::3]}); the simulated "
                      "scanner rotates about the slice axis of the array", stacklevel=3)


def _spacing_text(volume: Volume) -> str:
    return " x ".join(f"{s:g}" for s in volume.spacing)


def _grid_text(volume: Volume) -> str:
    origin = ", ".join(f"{o:g}" for o in volume.origin)
    return f"shape {volume.array.shape}, spacing {_spacing_text(volume)} mm, origin ({origin}) mm"


# --- memory --------------------------------------------------------------------------------------------------
def check_memory(needed_bytes: float, what: str) -> None:
    """Refuse, with the figures, work that needs more memory than this machine (or its limits) has available."""
    available = available_memory_bytes()
    if needed_bytes > available:
        raise InputError(f"{what} needs about {needed_bytes / 2**30:.1f} GiB of memory, but only "
                         f"{available / 2**30:.1f} GiB is available here; crop or downsample the volume, "
                         "or use a machine with more memory")


def available_memory_bytes() -> int:
    """Memory this process may still use: the machine's available memory, within cgroup and ulimit limits."""
    import psutil

    available = psutil.virtual_memory().available
    limit = _cgroup_headroom()
    if limit is not None:
        available = min(available, limit)
    soft = _address_space_limit()
    if soft is not None:
        available = min(available, soft - psutil.Process().memory_info().vms)
    return max(int(available), 0)


def _address_space_limit() -> int | None:
    """The soft ``ulimit -v`` of this process in bytes (POSIX); None without one, or on Windows."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _cgroup_headroom() -> int | None:
    """Limit minus usage of this process's memory cgroup (v2, else v1); None without a limit."""
    for limit_file, usage_file in (("memory.max", "memory.current"),
                                   ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        try:
            limit = Path("/sys/fs/cgroup", limit_file).read_text().strip()
            usage = int(Path("/sys/fs/cgroup", usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or not limit.isdigit() or int(limit) >= 2**60:
            return None
        return int(limit) - usage
    return None


def estimated_volume_bytes(voxels: int, bytes_per_voxel: float = 4.0) -> int:
    """Disk size of a written volume: float32 CT noise barely compresses, so 4 bytes per voxel (an upper bound)."""
    return int(math.ceil(voxels * bytes_per_voxel))
