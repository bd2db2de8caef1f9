"""The projector protocol every backend implements, and the optional solvers a backend may add.

A projector is bound to one acquisition geometry and one voxel grid. Projections are
line integrals (dimensionless, mu in 1/mm times path length in mm) laid out
``[view, row, column]``; in fan mode the rows are the volume's slices.

Every backend offers the two operators iterative algorithms are written over, as TIGRE's
``Ax``/``Atb`` (Biguri et al. 2016): forward projection A and its adjoint A^T (back
projection), plus FBP/FDK. A reconstructor uses only these, or asks for an optional
capability below with ``isinstance(projector, Capability)``; it never looks at a
backend's name or internals. A backend with its own, better solver for a method offers it
by defining that capability's method.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.projection.geometry import ScanGeometry


@runtime_checkable
class Projector(Protocol):
    """Forward projection, its adjoint and filtered backprojection for one geometry and grid.

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
        """A: line integrals ``[view, row, column]`` of an attenuation volume ``[z, y, x]`` in 1/mm (``Ax``)."""

    def back_project(self, line_integrals: np.ndarray) -> np.ndarray:
        """A^T: ``[z, y, x]``, the adjoint of :meth:`forward_project`, <A x, y> = <x, A^T y> (``Atb``, matched)."""

    def reconstruct_fbp(self, line_integrals: np.ndarray, filter_name: str = "ram-lak") -> np.ndarray:
        """Attenuation ``[z, y, x]`` in 1/mm by filtered backprojection (FBP per slice, FDK for cone)."""


@runtime_checkable
class QggmrfSolver(Protocol):
    """Optional: the backend's own solver of qGGMRF MBIR (mbirjax: vector coordinate descent)."""

    def reconstruct_qggmrf(self, line_integrals: np.ndarray, weights: np.ndarray | None, regularization: float,
                           iterations: int) -> np.ndarray:
        """argmin 1/2 ||l - A mu||_W^2 + qGGMRF prior, ``[z, y, x]`` in 1/mm; ``regularization`` multiplies the
        backend's default prior strength, ``weights`` are the expected counts per ray (None: uniform)."""


@runtime_checkable
class AsdPocsSolver(Protocol):
    """Optional: the backend's own ASD-POCS (TIGRE: OS-SART data steps and TV descent on the GPU)."""

    def reconstruct_asd_pocs(self, line_integrals: np.ndarray, regularization: float, iterations: int) -> np.ndarray:
        """ASD-POCS from FBP/FDK, ``[z, y, x]`` in 1/mm; ``regularization`` multiplies the backend's default TV step."""


def as_volume(mu_per_mm, volume_shape: tuple[int, ...]) -> np.ndarray:
    """``mu_per_mm`` as float32, or :class:`InputError` if it is not on the projector's grid."""
    mu = np.asarray(mu_per_mm, dtype=np.float32)
    if mu.shape != tuple(volume_shape):
        raise InputError(f"volume shape {mu.shape} differs from the projector's grid {tuple(volume_shape)}")
    return mu


def as_projections(line_integrals, projection_shape: tuple[int, ...]) -> np.ndarray:
    """``line_integrals`` as float32, or :class:`InputError` if they do not fit the geometry."""
    projections = np.asarray(line_integrals, dtype=np.float32)
    if projections.shape != tuple(projection_shape):
        raise InputError(f"projections of shape {projections.shape} do not match the geometry {tuple(projection_shape)}")
    return projections
