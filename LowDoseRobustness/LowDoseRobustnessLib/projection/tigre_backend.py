"""GPU projector and FDK through TIGRE (optional: needs CUDA and TIGRE built from source).

TIGRE is not on PyPI (the PyPI package named ``tigre`` is unrelated); install it from
https://github.com/CERN/TIGRE (``cd Python && pip install .``) on a machine with CUDA.
TIGRE volumes are ``[z, y, x]`` and projections ``[angle, row, column]`` like ours. Fan
mode runs each slice as a one-row cone beam with the source in the slice plane. FDK is
TIGRE's own (cosine weights, its ramp, its FDK backprojection ``Atb``) with the band limit to
the image grid and the windows of :mod:`..reconstruction.filters` (absolute frequency at the
isocentre) applied to the ramp-filtered projections, as with mbirjax.

The protocol's operators are TIGRE's adjoint pair as its own Krylov solvers (CGLS, LSQR)
use it: ``Ax`` with the Siddon ray model and ``Atb(..., "matched")``; TIGRE's ASD-POCS is
offered as the optional solver :class:`.base.AsdPocsSolver`. CI has no GPU: checked on an H200
by ``Testing/benchmarks/gpu_checks.py`` (``LowDoseRobustness/Docs/gpu.md``).
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from LowDoseRobustnessLib.projection.base import as_projections, as_volume
from LowDoseRobustnessLib.projection.geometry import ScanGeometry
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.reconstruction.filters import FilterSpec, as_kernel, window_projections

TIGRE_DEFAULT_TV_STEP = 0.002
"""TIGRE's ASD-POCS ``alpha``: the TV step as a fraction of the first data step's change."""


def _tigre_geometry(geometry: ScanGeometry, volume_shape, spacing_mm, rows: int, row_mm: float):
    import tigre

    nz, ny, nx = volume_shape
    sx, sy, sz = spacing_mm
    geo = tigre.geometry(mode="cone", default=False)
    geo.DSD, geo.DSO = geometry.source_detector_mm, geometry.source_isocenter_mm
    geo.nDetector = np.array([rows, geometry.detector_columns])
    geo.dDetector = np.array([row_mm, geometry.detector_column_mm])
    geo.sDetector = geo.nDetector * geo.dDetector
    geo.nVoxel = np.array([nz, ny, nx])
    geo.dVoxel = np.array([sz, sy, sx])
    geo.sVoxel = geo.nVoxel * geo.dVoxel
    geo.offOrigin, geo.offDetector = np.zeros(3), np.zeros(2)
    geo.rotDetector, geo.COR, geo.accuracy = np.zeros(3), 0.0, 0.5
    return geo


class TigreProjector:
    """Cone beam (axial) or fan beam per slice on a CUDA GPU through TIGRE."""

    name = "tigre"
    device = "cuda"
    modes = ("fan", "cone")

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import tigre
            from tigre.utilities import gpu
        except ImportError:
            return ("TIGRE is not installed; it needs CUDA and is built from source "
                    "(github.com/CERN/TIGRE, Python/README), not from PyPI")
        try:
            if not gpu.getGpuNames():
                return "TIGRE found no CUDA GPU"
        except Exception as error:  # TIGRE raises plain errors when the CUDA runtime is missing
            return f"TIGRE cannot reach a CUDA GPU ({error})"
        return None

    def __init__(self, geometry: ScanGeometry, volume_shape, spacing_mm):
        if geometry.helical_pitch > 0:
            raise InputError("the tigre backend here does axial scans only; use mbirjax for helical geometry")
        geometry.check_covers(volume_shape, spacing_mm)
        self.geometry, self.volume_shape, self.pixel_mm = geometry, tuple(volume_shape), max(spacing_mm[:2])
        self.angles = geometry.angles_rad.astype(np.float32)
        rows = volume_shape[0] if geometry.mode == "fan" else geometry.detector_rows
        self.projection_shape = (geometry.n_views, rows, geometry.detector_columns)
        if geometry.mode == "fan":
            slice_shape = (1,) + tuple(volume_shape[1:])
            self.geo = _tigre_geometry(geometry, slice_shape, spacing_mm, 1, spacing_mm[2] * geometry.magnification)
        else:
            self.geo = _tigre_geometry(geometry, volume_shape, spacing_mm, geometry.detector_rows,
                                       geometry.detector_row_mm)

    def _per_slab(self, function, data: np.ndarray, slab_axis: int) -> np.ndarray:
        if self.geometry.mode == "cone":
            return function(data)
        slabs = [function(np.ascontiguousarray(np.take(data, [k], axis=slab_axis)))
                 for k in range(data.shape[slab_axis])]
        return np.concatenate(slabs, axis=1 if slab_axis == 0 else 0)

    def forward_project(self, mu_per_mm: np.ndarray) -> np.ndarray:
        """A: TIGRE's ``Ax`` (Siddon ray model)."""
        import tigre

        mu = as_volume(mu_per_mm, self.volume_shape)
        return self._per_slab(lambda v: tigre.Ax(v, self.geo, self.angles, "Siddon"), mu, slab_axis=0)

    def back_project(self, line_integrals: np.ndarray) -> np.ndarray:
        """A^T: TIGRE's matched ``Atb`` (the backprojector its CGLS pairs with Siddon ``Ax``) times
        :attr:`adjoint_scale`, so that <A x, y> = <x, A^T y>."""
        projections = as_projections(line_integrals, self.projection_shape)
        return self._per_slab(self._matched_back_projection, projections, slab_axis=1) * self.adjoint_scale

    def _matched_back_projection(self, projections: np.ndarray) -> np.ndarray:
        import tigre

        return tigre.Atb(projections, self.geo, self.angles, backprojection_type="matched")

    @cached_property
    def adjoint_scale(self) -> float:
        """|A x|^2 / <x, B A x> for a random slab x, B TIGRE's matched backprojector: TIGRE's pseudo-matched
        ``Atb`` is voxel-driven and its scale differs from the adjoint of the ray-driven ``Ax`` (by 8.7 % on a
        1.5 mm grid with 3 mm slices, ``Testing/benchmarks/gpu_checks.py``), which the generic solvers'
        step sizes would otherwise inherit."""
        import tigre

        slab = (1,) + self.volume_shape[1:] if self.geometry.mode == "fan" else self.volume_shape
        x = np.random.default_rng(0).random(slab, dtype=np.float32)
        ax = tigre.Ax(x, self.geo, self.angles, "Siddon")
        return float(np.vdot(ax.astype(np.float64), ax) / np.vdot(x.astype(np.float64),
                                                                    self._matched_back_projection(ax)))

    def reconstruct_fbp(self, line_integrals: np.ndarray, filter_name: FilterSpec = "ram-lak") -> np.ndarray:
        kernel = as_kernel(filter_name)
        projections = as_projections(line_integrals, self.projection_shape)
        return self._per_slab(lambda p: self._fdk(p, kernel), projections, slab_axis=1)

    def _fdk(self, projections: np.ndarray, kernel) -> np.ndarray:
        """TIGRE's FDK steps (cosine weights, ramp filtering, FDK backprojection) with our band limit and window."""
        import copy

        from tigre.utilities.Atb import Atb
        from tigre.utilities.filtering import filtering

        geo = copy.deepcopy(self.geo)
        geo.check_geo(self.angles)
        geo.filter = "ram_lak"
        rows, columns = geo.nDetector
        u = (np.arange(columns) - (columns - 1) / 2) * geo.dDetector[1]
        v = (np.arange(rows) - (rows - 1) / 2) * geo.dDetector[0]
        sdd = float(np.ravel(geo.DSD)[0])  # check_geo makes DSD one value per view
        weights = sdd / np.sqrt(sdd ** 2 + u[None, :] ** 2 + v[:, None] ** 2)
        filtered = filtering((projections * weights).astype(np.float32), geo, self.angles, parker=False)
        filtered = window_projections(filtered, self.geometry.detector_column_mm / self.geometry.magnification,
                                      kernel, axis=2, grid_nyquist_per_mm=0.5 / self.pixel_mm)
        return Atb(np.ascontiguousarray(filtered, dtype=np.float32), geo, self.angles, "FDK")

    def reconstruct_asd_pocs(self, line_integrals: np.ndarray, regularization: float, iterations: int) -> np.ndarray:
        """ASD-POCS (OS-SART + TV, Sidky & Pan 2008) started from FDK: the :class:`.base.AsdPocsSolver` capability."""
        from tigre.algorithms import asd_pocs

        projections = as_projections(line_integrals, self.projection_shape)
        tv_step = TIGRE_DEFAULT_TV_STEP * regularization
        return self._per_slab(lambda p: asd_pocs(p, self.geo, self.angles, iterations, alpha=tv_step, init="FDK",
                                                 verbose=False), projections, slab_axis=1)
