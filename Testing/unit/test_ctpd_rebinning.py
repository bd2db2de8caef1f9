"""Helical / flying-focal-spot projections rebinned to fan-beam sinograms and reconstructed (issue #12).

The phantom's projections are exact line integrals through a DICOM-CT-PD scanner model written
independently of the library's rebinning (Testing/support/ctpd_phantom.py).
"""
from __future__ import annotations

import numpy as np
import pytest
from ctpd_phantom import HelicalScanner, line_integrals, scan_phantom, water_phantom, write_ctpd
from ctpd_scans import GRID, helical_folders, in_memory_scan, phantom_truth  # noqa: F401 (fixture)
from scipy.ndimage import binary_erosion

from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.projection import get_projector
from LowDoseRobustnessLib.projection.orientation import image_orientation
from LowDoseRobustnessLib.projection.rebinning import FanRebinner
from LowDoseRobustnessLib.simulation.measured import ReconstructionGrid, plan_reconstruction, simulate_from_projections

CYLINDERS = [shape for shape in water_phantom() if shape.cylinder]
"""The phantom without its sphere: the same in every slice, so a rebinned slice has an exact reference."""


def fan_projection(target, z_mm: float) -> np.ndarray:
    """Exact line integrals of the cylinders through the target fan geometry at height z (``[view, column]``)."""
    beta = target.angles_rad[:, None]
    u = (np.arange(target.detector_columns) - (target.detector_columns - 1) / 2) * target.detector_column_mm
    source = np.stack(np.broadcast_arrays(target.source_isocenter_mm * np.cos(beta),
                                          target.source_isocenter_mm * np.sin(beta), z_mm), -1)
    behind = target.source_detector_mm - target.source_isocenter_mm
    detector = np.stack(np.broadcast_arrays(-behind * np.cos(beta) - u * np.sin(beta),
                                            -behind * np.sin(beta) + u * np.cos(beta), z_mm), -1)
    return line_integrals(CYLINDERS, source, detector)


@pytest.mark.parametrize("changes", [
    dict(flying_focal_spot="FFSNONE"),
    dict(flying_focal_spot="FFSXYZ", pitch=1.4, turns=3.5),
    dict(flying_focal_spot="FFSXY", shape="FLAT", angle_step_sign=1.0),
    dict(flying_focal_spot="FFSZ", helical=False, shape="FLAT"),
], ids=["curved", "curved-FFSXYZ-pitch1.4", "flat-FFSXY-other-rotation", "axial-flat-FFSZ"])
def test_rebinned_sinograms_match_exact_fan_projections(changes):
    scanner = HelicalScanner(**changes)
    phantom = scan_phantom(scanner, CYLINDERS)
    plan = plan_reconstruction(in_memory_scan(phantom), GRID)
    rebinner = FanRebinner(plan.geometry, plan.target)
    worst = 0.0
    for z in plan.slices_mm[[0, len(plan.slices_mm) // 2, -1]]:
        slice_plan = rebinner.plan(z)
        rebinned = slice_plan.apply(phantom.noiseless[slice_plan.first:slice_plan.stop])
        exact = fan_projection(plan.target, z)
        worst = max(worst, float(np.sqrt(np.mean((rebinned - exact) ** 2)) / exact.max()))
        assert slice_plan.extrapolated_fraction < 0.01
    print(f"{changes}: rebinned vs exact fan projection, worst RMS error {worst:.2%} of the largest line integral")
    assert worst < 0.005


def roi_errors(volume) -> dict[float, tuple[float, float]]:
    """Per uniform region of the phantom (2 pixels and 1 slice from any edge): mean and SD of the error (HU)."""
    truth = phantom_truth(volume)
    errors = {}
    for value in np.unique(np.round(truth)):
        region = binary_erosion(np.isclose(truth, value), structure=np.ones((3, 5, 5), bool))
        if region.sum() >= 50:
            difference = volume.array[region] - truth[region]
            errors[float(value)] = (float(difference.mean()), float(difference.std()))
    return errors


@pytest.fixture(scope="module")
def noiseless_volume(helical_folders):  # noqa: F811
    return simulate_from_projections(helical_folders.noiseless, [], grid=GRID)[1.0]


def test_full_dose_image_of_a_helical_scan_matches_the_phantom(noiseless_volume):
    """Curved detector, z flying focal spot, read from DICOM-CT-PD files: every uniform region within 5 HU."""
    errors = roi_errors(noiseless_volume)
    print("region HU: mean error, SD (HU) " + "; ".join(f"{v:.0f}: {m:+.1f}, {s:.1f}" for v, (m, s) in errors.items()))
    assert {-1000.0, -100.0, 0.0, 60.0, 300.0} <= set(errors)
    assert all(abs(mean) < 5.0 for mean, _ in errors.values())


def test_slices_sit_at_their_table_positions(noiseless_volume):
    """The sphere (radius 8 mm at z = 0, +200 HU) spans z = -8 .. 8 mm in the reconstruction (half-maximum edges)."""
    volume = noiseless_volume
    z = volume.origin[2] + volume.spacing[2] * np.arange(volume.array.shape[0])
    centre = volume.array.shape[1] // 2
    profile = volume.array[:, centre - 1:centre + 1, centre - 1:centre + 1].mean(axis=(1, 2))
    inside = z[profile > 100]
    fine = np.linspace(z[0], z[-1], 2001)
    edges = fine[np.interp(fine, z, profile) > 100]
    print(f"sphere from {edges[0]:.2f} to {edges[-1]:.2f} mm (truth -8 .. 8 mm)")
    assert inside.size and abs(edges[0] + 8) < 1.0 and abs(edges[-1] - 8) < 1.0


def test_axial_scan_read_from_files_matches_the_phantom(tmp_path):
    scanner = HelicalScanner(helical=False, shape="FLAT", flying_focal_spot="FFSXY")
    phantom = scan_phantom(scanner, water_phantom(sphere_radius_mm=0))
    folder = write_ctpd(tmp_path / "axial", phantom, phantom.noiseless)
    volume = simulate_from_projections(folder, [], grid=ReconstructionGrid(matrix=96, fov_mm=192, slice_mm=4))[1.0]
    errors = roi_errors(volume)
    print("axial: " + "; ".join(f"{v:.0f}: {m:+.1f}" for v, (m, _) in errors.items()))
    assert len(errors) == 5 and all(abs(mean) < 5.0 for mean, _ in errors.values())


def test_slices_outside_the_scan_are_refused(helical_folders):  # noqa: F811
    with pytest.raises(InputError, match="this scan can give"):
        simulate_from_projections(helical_folders.noiseless, [],
                                  grid=ReconstructionGrid(matrix=96, fov_mm=192, z_range_mm=(-40, 0)))


def test_astra_images_need_no_turn():
    plan = plan_reconstruction(in_memory_scan(scan_phantom(HelicalScanner(turns=2.2), CYLINDERS)), GRID)
    projector = get_projector("astra", plan.target, (2, GRID.matrix, GRID.matrix), (2.0, 2.0, 2.0))
    orientation = image_orientation(projector, plan.target, (2, GRID.matrix, GRID.matrix), 2.0)
    assert (orientation.quarter_turns, orientation.mirrored) == (0, False)


@pytest.mark.slow
def test_mbirjax_images_are_turned_into_the_scanner_frame(helical_folders):  # noqa: F811
    """mbirjax maps the fan geometry onto its arrays turned by 90 degrees against astra; the probe finds it."""
    from LowDoseRobustnessLib.simulation.simulate import SimulationSettings

    grid = ReconstructionGrid(matrix=96, fov_mm=192.0, slice_mm=2.0, z_range_mm=(-2, 2))
    volume = simulate_from_projections(helical_folders.noiseless, [], SimulationSettings(backend="mbirjax"),
                                       grid=grid)[1.0]
    errors = roi_errors(volume)
    assert all(abs(mean) < 10.0 for mean, _ in errors.values())


def test_reversed_channels_in_the_data_are_reported():
    """The direct and reversed rays agree only with the right channel direction: a scanner whose channel index
    runs the other way (same data, channels and central element mirrored) gets a warning, the right one none."""
    from dataclasses import replace
    from warnings import catch_warnings, simplefilter

    from LowDoseRobustnessLib.projection.conventions import direction_mismatches, warn_if_other_directions_fit

    phantom = scan_phantom(HelicalScanner(), water_phantom())
    mirrored_scanner = replace(phantom.scanner, central_channel=phantom.scanner.channels + 1
                               - phantom.scanner.central_channel)
    mirrored = replace(phantom, scanner=mirrored_scanner, noiseless=np.ascontiguousarray(phantom.noiseless[..., ::-1]))
    plan = plan_reconstruction(in_memory_scan(phantom), GRID)
    z = float(plan.slices_mm[len(plan.slices_mm) // 2])
    mismatch = direction_mismatches(in_memory_scan(phantom), plan.target, phantom.noiseless, 0, z)
    print("direct vs reversed rays, (channel, row) direction -> mismatch: "
          + ", ".join(f"{key}: {value:.2%}" for key, value in mismatch.items()))
    with catch_warnings():
        simplefilter("error")
        warn_if_other_directions_fit(in_memory_scan(phantom), plan.target, phantom.noiseless, 0, z)
    with pytest.warns(UserWarning, match="channel index running along the detector's u axis"):
        warn_if_other_directions_fit(in_memory_scan(mirrored), plan.target, mirrored.noiseless, 0, z)


def test_axial_scans_at_several_table_positions_are_refused():
    from dataclasses import replace

    scan = replace(in_memory_scan(scan_phantom(HelicalScanner(turns=2.2), CYLINDERS)), projection_type="AXIAL")
    with pytest.raises(InputError, match="step and shoot"):
        plan_reconstruction(scan, GRID)
