"""Cone-beam (optionally helical) projector and FDK on the CPU or GPU through mbirjax.

mbirjax works in arbitrary length units; here they are mm. Its volumes are laid
out ``[row, column, slice]`` = ``[y, x, z]``, converted to and from ``[z, y, x]``.
In fan mode each slice is one detector row of a cone beam with the source in the
slice plane, i.e. a fan beam. mbirjax's FDK has only the plain ramp; the band limit to the
image grid and the windows (:mod:`..reconstruction.filters`, in absolute frequency at the
isocentre) are applied to its ramp-filtered projections before mbirjax's backprojection.
"""
from __future__ import annotations

import math

import numpy as np

from LowDoseRobustnessLib.projection.geometry import ScanGeometry, helical_table_positions_mm
from LowDoseRobustnessLib.reconstruction.filters import FilterSpec, as_kernel, window_projections
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
            raise InputError(f"mbirjax needs square in-plane voxels, got {sx} x {sy} mm; resample the volume first")
        geometry.check_covers(volume_shape, spacing_mm)
        self.geometry, self.volume_shape, self.pixel_mm = geometry, (nz, ny, nx), sx
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

    def forward_project(self, mu_per_mm: np.ndarray) -> np.ndarray:
        mu = np.asarray(mu_per_mm, dtype=np.float32)
        if mu.shape != self.volume_shape:
            raise InputError(f"volume shape {mu.shape} differs from the projector's grid {self.volume_shape}")
        return np.asarray(self.model.forward_project(np.ascontiguousarray(mu.transpose(1, 2, 0))), dtype=np.float32)

    def reconstruct_fbp(self, line_integrals: np.ndarray, filter_name: FilterSpec = "ram-lak") -> np.ndarray:
        """FDK: mbirjax's ramp, then the band limit and window along the channels, mbirjax's backprojection.

        Helical scans take mbirjax's own FDK (its ramp, not band-limited): only ram-lak is offered there.
        """
        kernel = as_kernel(filter_name)
        projections = np.asarray(line_integrals, dtype=np.float32)
        if projections.shape != self.sinogram_shape:
            raise InputError(f"projections of shape {projections.shape} do not match the geometry {self.sinogram_shape}")
        if self.geometry.helical_pitch > 0:
            if kernel != as_kernel("ram-lak"):
                raise InputError(f"helical FDK through mbirjax offers only the ram-lak filter, not {kernel.describe()}")
            recon = self.model.direct_recon(projections, filter_name="ramp")
        else:
            ramp_filtered = np.asarray(self.model.direct_filter(projections, filter_name="ramp"))
            channel_mm = self.geometry.detector_column_mm / self.geometry.magnification
            filtered = window_projections(ramp_filtered, channel_mm, kernel, axis=2,
                                          grid_nyquist_per_mm=0.5 / self.pixel_mm)
            recon = self.model.back_project(filtered)
        return np.ascontiguousarray(np.asarray(recon, dtype=np.float32).transpose(2, 0, 1))
