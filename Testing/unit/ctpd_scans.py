"""Generated DICOM-CT-PD scans of the water phantom, shared by the measured-projection tests (session fixtures)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from ctpd_phantom import HelicalScanner, PhantomScan, scan_phantom, water_phantom, write_ctpd

from LowDoseRobustnessLib.io.ctpd_reader import DetectorLayout, ProjectionScan
from LowDoseRobustnessLib.simulation.measured import ReconstructionGrid

SCANNER = HelicalScanner(flying_focal_spot="FFSZ")
"""8 rows x 96 channels, 240 readings per turn, 3 turns at pitch 1 (16 mm per turn), z flying focal spot."""
GRID = ReconstructionGrid(matrix=96, fov_mm=192.0, slice_mm=2.0)
FLUX = 1.0e5
SHAPES = water_phantom()


@dataclass
class HelicalFolders:
    """Folders of the same helical scan: noiseless, measured at full dose, and measured directly at 25 % dose."""

    phantom: PhantomScan
    noiseless: Path
    full: Path
    quarter: Path


@pytest.fixture(scope="session")
def helical_folders(tmp_path_factory) -> HelicalFolders:
    root = tmp_path_factory.mktemp("ctpd")
    phantom = scan_phantom(SCANNER, SHAPES, FLUX)
    return HelicalFolders(phantom=phantom, noiseless=write_ctpd(root / "noiseless", phantom, phantom.noiseless),
                          full=write_ctpd(root / "full", phantom, phantom.measured(1.0, seed=1)),
                          quarter=write_ctpd(root / "quarter", phantom, phantom.measured(0.25, seed=2),
                                             dose_fraction=0.25))


def in_memory_scan(phantom: PhantomScan) -> ProjectionScan:
    """The :class:`ProjectionScan` the reader would return for ``phantom`` (geometry only: no files to read)."""
    s, p = phantom.scanner, phantom.positions
    detector = DetectorLayout(s.shape, s.rows, s.channels, s.channel_mm, s.row_mm, s.central_channel - 1,
                              s.central_row - 1, s.source_detector_mm)
    return ProjectionScan(folder=Path("."), files=(), detector=detector, views_per_turn=s.views_per_turn,
                          flying_focal_spot=s.flying_focal_spot, focal_center_angle_rad=p["phi"],
                          focal_center_z_mm=p["z"], focal_center_radius_mm=p["rho"],
                          focal_spot_angle_shift_rad=p["dphi"], focal_spot_z_shift_mm=p["dz"],
                          focal_spot_radius_shift_mm=p["drho"], photon_statistics=phantom.photon_statistics,
                          water_attenuation_per_mm=0.0192, data_collection_diameter_mm=None,
                          projection_type="HELICAL" if s.helical else "AXIAL")


def phantom_truth(volume) -> np.ndarray:
    """The phantom's HU on the grid of ``volume``."""
    from ctpd_phantom import phantom_hu

    nz, ny, nx = volume.array.shape
    axes = [volume.origin[k] + volume.spacing[k] * np.arange(n) for k, n in enumerate((nx, ny, nz))]
    z, y, x = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    return phantom_hu(SHAPES, x, y, z)
