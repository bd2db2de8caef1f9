"""The projector protocol every backend implements.

A projector is bound to one acquisition geometry and one voxel grid. Projections
are line integrals (dimensionless, mu in 1/mm times path length in mm) laid out
``[view, row, column]``; in fan mode the rows are the volume's slices.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from LowDoseRobustnessLib.projection.geometry import ScanGeometry


@runtime_checkable
class Projector(Protocol):
    """Forward projection and filtered backprojection for one geometry and grid.

    Class attributes: ``name`` (registry key), ``device`` ("cpu" or "cuda"),
    ``modes`` (geometry modes supported). ``unavailable_reason()`` is a
    classmethod returning None when the backend can run, else a sentence why not.
    """

    name: str
    device: str
    modes: tuple[str, ...]

    def __init__(self, geometry: ScanGeometry, volume_shape: tuple[int, int, int],
                 spacing_mm: tuple[float, float, float]): ...

    @classmethod
    def unavailable_reason(cls) -> str | None: ...

    def forward_project(self, mu_per_mm: np.ndarray) -> np.ndarray:
        """Line integrals ``[view, row, column]`` of an attenuation volume ``[z, y, x]`` in 1/mm."""

    def reconstruct_fbp(self, line_integrals: np.ndarray, filter_name: str = "ram-lak") -> np.ndarray:
        """Attenuation ``[z, y, x]`` in 1/mm by filtered backprojection (FBP per slice, FDK for cone)."""
