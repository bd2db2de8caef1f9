"""Cone-beam (optionally helical) projector and FDK on the CPU or GPU through mbirjax.

mbirjax works in arbitrary length units; here they are mm. Its volumes are laid
out ``[row, column, slice]`` = ``[y, x, z]``, converted to and from ``[z, y, x]``.
In fan mode each slice is one detector row of a cone beam with the source in the
slice plane, i.e. a fan beam. mbirjax's FDK has only the plain ramp; the other
windows are applied to its ramp-filtered projections before mbirjax's backprojection.
Besides the protocol's operators (mbirjax's forward projection and its adjoint back
projection) it offers its own qGGMRF MBIR solver (:class:`.base.QggmrfSolver`).
"""
from __future__ import annotations

import math

import numpy as np

MBIRJAX_DEFAULT_SHARPNESS = 1.0
MBIRJAX_PARTITION_SEED = 0
"""mbirjax draws its pixel partitions from numpy's global generator: seeded here, then restored."""

from LowDoseRobustnessLib.projection.base import as_projections, as_volume
from LowDoseRobustnessLib.projection.geometry import ScanGeometry, helical_table_positions_mm
from LowDoseRobustnessLib.contract import FBP_FILTERS
from LowDoseRobustnessLib.reconstruction.filters import apodize_projections
from LowDoseRobustnessLib.errors import InputError


class MbirjaxProjector:
    """Cone or fan beam through mbirjax's ConeBeamModel (flat detector)."""

    name = "mbirjax"
    device = "cpu"
    modes = ("fan", "cone")

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import mbirjax  # noqa: F401
        except ImportError:
            return "the mbirjax package is not installed (pip install mbirjax)"
        return None

    def __init__(self, geometry: ScanGeometry, volume_shape, spacing_mm):
        import mbirjax

        nz, ny, nx = volume_shape
        sx, sy, sz = spacing_mm
        if not math.isclose(sx, sy, rel_tol=1e-4):
            raise InputError(f"mbirjax needs square in-plane voxels, got {sx:g} x {sy:g} mm: use the fan-beam geometry "
                             "(the astra backend projects rectangular pixels exactly) or resample the volume")
        geometry.check_covers(volume_shape, spacing_mm)
        self.geometry, self.volume_shape = geometry, (nz, ny, nx)
        rows = nz if geometry.mode == "fan" else geometry.detector_rows
        views = geometry.n_views
        helical_z = None
        if geometry.helical_pitch > 0:
            collimation_mm = geometry.detector_rows * geometry.detector_row_mm / geometry.magnification
            turns = math.ceil((nz * sz + collimation_mm) / (geometry.helical_pitch * collimation_mm))
            views = geometry.n_views * turns
            helical_z = helical_table_positions_mm(geometry, views)
        angles = np.arange(views) * 2 * np.pi / geometry.n_views
        self.sinogram_shape = (views, rows, geometry.detector_columns)
        self.model = mbirjax.ConeBeamModel(self.sinogram_shape, angles, helical_z_shifts=helical_z,
                                           source_detector_dist=geometry.source_detector_mm,
                                           source_iso_dist=geometry.source_isocenter_mm)
        row_mm = sz * geometry.magnification if geometry.mode == "fan" else geometry.detector_row_mm
        self.model.set_params(delta_det_channel=geometry.detector_column_mm, delta_det_row=row_mm,
                              delta_voxel=sx, voxel_slice_aspect=sz / sx, recon_shape=(ny, nx, nz))

    def _checked_projections(self, line_integrals: np.ndarray) -> np.ndarray:
        return as_projections(line_integrals, self.sinogram_shape)

    @staticmethod
    def _to_zyx(recon) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(recon, dtype=np.float32).transpose(2, 0, 1))

    def forward_project(self, mu_per_mm: np.ndarray) -> np.ndarray:
        """A: mbirjax's separable-footprint forward projection, ``[view, row, column]``."""
        mu = as_volume(mu_per_mm, self.volume_shape)
        return np.asarray(self.model.forward_project(np.ascontiguousarray(mu.transpose(1, 2, 0))), dtype=np.float32)

    def back_project(self, line_integrals: np.ndarray) -> np.ndarray:
        """A^T: mbirjax's back projection, the adjoint of :meth:`forward_project`, ``[z, y, x]``."""
        return self._to_zyx(self.model.back_project(self._checked_projections(line_integrals)))

    def reconstruct_qggmrf(self, line_integrals: np.ndarray, weights: np.ndarray | None, regularization: float,
                           iterations: int) -> np.ndarray:
        """mbirjax's qGGMRF MBIR (vector coordinate descent), warm-started by its FDK; ``[z, y, x]`` in 1/mm.

        Its prior scale is sigma_x = 0.2 x 2^sharpness x (typical image value) and the prior's weight
        goes as 1/sigma_x^2, so multiplying it by ``regularization`` lowers sharpness by log2(regularization)/2.
        """
        sharpness = MBIRJAX_DEFAULT_SHARPNESS - 0.5 * math.log2(regularization)
        self.model.set_params(sharpness=sharpness, verbose=0)
        projections = self._checked_projections(line_integrals)
        weights = None if weights is None else np.asarray(weights, dtype=np.float32)
        global_state = np.random.get_state()
        np.random.seed(MBIRJAX_PARTITION_SEED)
        try:
            recon, _ = self.model.recon(projections, weights=weights, max_iterations=iterations,
                                        stop_threshold_change_pct=0, print_logs=False, logfile_path=None)
        finally:
            np.random.set_state(global_state)
        return self._to_zyx(recon)

    def reconstruct_fbp(self, line_integrals: np.ndarray, filter_name: str = "ram-lak") -> np.ndarray:
        """FDK with mbirjax's ramp; other windows W(f) multiply the ramp-filtered projections along the channels."""
        if filter_name not in FBP_FILTERS:
            raise InputError(f"unknown FBP filter {filter_name!r}; choose one of {', '.join(FBP_FILTERS)}")
        projections = self._checked_projections(line_integrals)
        if filter_name == "ram-lak":
            recon = self.model.direct_recon(projections, filter_name="ramp")
        elif self.geometry.helical_pitch > 0:
            raise InputError(f"helical FDK through mbirjax offers only the ram-lak filter, not {filter_name!r}")
        else:
            filtered = apodize_projections(np.asarray(self.model.direct_filter(projections, filter_name="ramp")),
                                           filter_name, axis=2)
            recon = self.model.back_project(filtered)
        return self._to_zyx(recon)
