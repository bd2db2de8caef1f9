"""A CT volume as plain arrays: voxel values plus physical grid.

Conventions (shared with SimpleITK and Slicer's ``arrayFromVolume``):
``array`` is indexed ``[z, y, x]`` (slice, row, column); ``spacing`` and
``origin`` are given in ``(x, y, z)`` order in mm; ``direction`` is the 3x3
direction-cosine matrix, row-major, as SimpleITK's ``GetDirection``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from LowDoseRobustnessLib.errors import InputError

IDENTITY_DIRECTION = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class Volume:
    """Voxel ``array[z, y, x]`` on a grid with ``spacing``/``origin`` (x, y, z) in mm."""

    array: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: tuple[float, ...] = field(default=IDENTITY_DIRECTION)

    def __post_init__(self):
        array = np.asarray(self.array)
        if array.ndim != 3:
            raise InputError(
                f"expected a 3D volume (slices, rows, columns), got an array of shape {array.shape}; "
                "a single 2D image must be given as one slice, shape (1, rows, columns)")
        spacing = tuple(float(s) for s in self.spacing)
        if len(spacing) != 3 or not all(np.isfinite(s) and s > 0 for s in spacing):
            raise InputError(f"voxel spacing must be three positive numbers in mm, got {self.spacing}")
        if len(tuple(self.origin)) != 3 or len(tuple(self.direction)) != 9:
            raise InputError("origin needs 3 values (mm) and direction 9 values (3x3 row-major)")
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "origin", tuple(float(o) for o in self.origin))
        object.__setattr__(self, "direction", tuple(float(d) for d in self.direction))

    def with_array(self, array: np.ndarray) -> "Volume":
        """The same grid holding other voxel values (shape must match)."""
        if np.shape(array) != self.array.shape:
            raise InputError(f"array shape {np.shape(array)} does not match the grid {self.array.shape}")
        return replace(self, array=np.asarray(array))

    def same_grid(self, other: "Volume", tolerance_mm: float = 1e-3) -> bool:
        """True when both volumes have the same shape, spacing, origin and direction."""
        return (self.array.shape == other.array.shape
                and np.allclose(self.spacing, other.spacing, atol=tolerance_mm)
                and np.allclose(self.origin, other.origin, atol=tolerance_mm)
                and np.allclose(self.direction, other.direction, atol=1e-6))
