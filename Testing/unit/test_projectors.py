"""The projector protocol on every backend that runs here: the line model against astra-toolbox, the grid
symmetries against the full matrix, adjoints, the iterative algorithms, and unequal in-plane spacing."""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from phantoms import PHANTOM_TRUTH_HU, water_phantom
from reconstruction_scans import simulate_scan

from image_quality import roi_mean_sd
from LowDoseRobustnessLib.cli import main as lowdose
from LowDoseRobustnessLib.projection import get_projector
from LowDoseRobustnessLib.projection.base import AsdPocsSolver, Projector, QggmrfSolver
from LowDoseRobustnessLib.projection.geometry import fast_geometry
from LowDoseRobustnessLib.projection.line_matrix import fan_beam_rays, parallel_beam_rays, ray_pixel_lengths
from LowDoseRobustnessLib.reconstruction import get_reconstructor
from LowDoseRobustnessLib.reconstruction.iterative import preferred_algorithm

SID_MM, SDD_MM = 570.0, 1040.0
GRIDS = {  # (slices, rows, columns), (x, y, z) spacing mm, views
    "square grid, 8 motions": ((2, 48, 48), (2.0, 2.0, 2.0), 16),
    "square pixels padded to a square grid": ((2, 40, 48), (2.0, 2.0, 2.0), 16),
    "1.4 x 1.2 mm pixels, 4 motions": ((2, 40, 48), (1.4, 1.2, 2.0), 16),
    "odd view count, 2 motions": ((2, 40, 48), (1.4, 1.2, 2.0), 15),
}


def _astra_matrix(projection_geometry: dict, volume_geometry: dict, kernel: str):
    import astra

    projector_id = astra.create_projector(kernel, projection_geometry, volume_geometry)
    matrix_id = astra.projector.matrix(projector_id)
    try:
        return astra.matrix.get(matrix_id).astype(np.float32).tocsr()
    finally:
        astra.matrix.delete(matrix_id)
        astra.projector.delete(projector_id)


@pytest.mark.parametrize("pixel_mm, detector_mm", [(1.5, 1.0), (2.0, 2.0), (0.9, 0.7)])
def test_line_matrices_equal_astra_line_kernels(pixel_mm, detector_mm):
    """Our fan and parallel matrices = astra-toolbox's line_fanflat / line (2D CPU) kernels: same entries,
    values within ASTRA's single-precision stepping error, same projections of a random image."""
    import astra

    rows, columns, detectors = 40, 44, 120
    volume_geometry = astra.create_vol_geom(rows, columns, -columns * pixel_mm / 2, columns * pixel_mm / 2,
                                            -rows * pixel_mm / 2, rows * pixel_mm / 2)
    beta = np.linspace(0, 2 * np.pi, 48, endpoint=False) + 0.013
    radial, lateral = np.stack([np.cos(beta), np.sin(beta)], 1), np.stack([-np.sin(beta), np.cos(beta)], 1)
    fan_vectors = np.hstack([SID_MM * radial, -(SDD_MM - SID_MM) * radial, detector_mm * lateral])
    theta = np.arange(40) * np.pi / 40 + 0.011  # no ray along a pixel edge, where either neighbour may take it
    parallel_vectors = np.hstack([-np.stack([np.cos(theta), np.sin(theta)], 1), np.zeros((theta.size, 2)),
                                  detector_mm * np.stack([-np.sin(theta), np.cos(theta)], 1)])
    pairs = {
        "fan": (_astra_matrix(astra.create_proj_geom("fanflat_vec", detectors, fan_vectors), volume_geometry,
                              "line_fanflat"),
                ray_pixel_lengths(*fan_beam_rays(SID_MM, SDD_MM, detector_mm, detectors, beta), (rows, columns),
                                  (pixel_mm, pixel_mm))),
        "parallel": (_astra_matrix(astra.create_proj_geom("parallel_vec", detectors, parallel_vectors),
                                   volume_geometry, "line"),
                     ray_pixel_lengths(*parallel_beam_rays(theta, detectors, detector_mm), (rows, columns),
                                       (pixel_mm, pixel_mm))),
    }
    image = np.random.default_rng(0).random(rows * columns)
    for name, (theirs, ours) in pairs.items():
        print(f"{name}: {ours.nnz} entries (astra {theirs.nnz}), largest difference "
              f"{abs(theirs - ours).max():.4f} mm of {ours.max():.2f}")
        assert abs(ours.nnz - theirs.nnz) <= 1e-5 * theirs.nnz
        assert abs(theirs - ours).max() < 0.02 * pixel_mm
        projections, reference = ours @ image, theirs @ image
        assert np.abs(projections - reference).max() < 1e-3 * reference.max()


def test_line_lengths_are_exact_on_rectangular_pixels():
    """A ray's total length inside the grid is the chord of the rectangle, whatever the pixel shape."""
    rows, columns, pixel_mm = 30, 50, (1.4, 1.2)
    width, height = columns * pixel_mm[0], rows * pixel_mm[1]
    angles = np.linspace(0.01, np.pi - 0.01, 37)
    origins, directions = parallel_beam_rays(angles, 1, 1.0)  # central rays through the centre
    chords = np.minimum(np.abs(width / np.cos(angles)), np.abs(height / np.sin(angles)))
    lengths = np.asarray(ray_pixel_lengths(origins, directions, (rows, columns), pixel_mm).sum(axis=1)).ravel()
    assert np.allclose(lengths, chords, rtol=1e-5)


@pytest.mark.parametrize("grid", GRIDS)
def test_symmetric_projector_equals_the_full_matrix_and_its_adjoint(grid):
    shape, spacing, views = GRIDS[grid]
    geometry = fast_geometry(n_views=views).fitted_to(shape, spacing)
    projector = get_projector("astra", geometry, shape, spacing)
    rng = np.random.default_rng(1)
    mu = rng.random(shape, dtype=np.float32)
    full = ray_pixel_lengths(*fan_beam_rays(geometry.source_isocenter_mm, geometry.source_detector_mm,
                                            geometry.detector_column_mm, geometry.detector_columns,
                                            geometry.angles_rad), projector.grid, spacing[:2])
    padded = projector._pad(mu).reshape(shape[0], -1)
    expected = (full @ padded.T).reshape(views, geometry.detector_columns, shape[0]).transpose(0, 2, 1)
    projections = projector.forward_project(mu)
    stored = len(projector.symmetry.stored_views)
    print(f"{grid}: {len(projector.symmetry.motions)} motions, {stored} of {views} views stored")
    assert np.allclose(projections, expected, rtol=1e-5, atol=1e-5 * expected.max())
    lines = rng.random(projections.shape, dtype=np.float32)
    lhs = np.vdot(projections.astype(np.float64), lines)
    assert np.vdot(mu.astype(np.float64), projector.back_project(lines)) == pytest.approx(lhs, rel=1e-6)


def test_mbirjax_back_projection_is_the_adjoint():
    shape, spacing = (2, 24, 24), (4.0, 4.0, 4.0)
    geometry = fast_geometry(n_views=60).fitted_to(shape, spacing)
    projector = get_projector("mbirjax", geometry, shape, spacing)
    assert isinstance(projector, Projector) and isinstance(projector, QggmrfSolver)
    rng = np.random.default_rng(2)
    mu = rng.random(shape, dtype=np.float32)
    lines = rng.random((60, 2, geometry.detector_columns), dtype=np.float32)
    lhs = np.vdot(projector.forward_project(mu).astype(np.float64), lines)
    assert np.vdot(mu.astype(np.float64), projector.back_project(lines)) == pytest.approx(lhs, rel=1e-5)


@pytest.fixture(scope="module")
def small_phantom_scan():
    return simulate_scan(*water_phantom(size=64, pixel_mm=4.0, slices=2), backend="astra")


def _check_iterative(scan, algorithm: str, min_noise_reduction: float, max_error_hu: float | None = None) -> None:
    """Noise SD cut by ``min_noise_reduction`` against FBP in every ROI; ROI means within 5 HU of FBP's, or, when
    the backend's FBP is itself biased (mbirjax's FDK on this coarse grid), within ``max_error_hu`` of the truth."""
    fbp = scan.hu(scan.projector.reconstruct_fbp(scan.low_dose))
    result = scan.hu(get_reconstructor("iterative")(scan.low_dose, scan.projector, counts=scan.counts,
                                                   algorithm=algorithm))
    for name, roi in scan.rois.items():
        (fbp_mean, fbp_sd), (mean, sd) = roi_mean_sd(fbp, roi), roi_mean_sd(result, roi)
        print(f"{scan.projector.name} {algorithm} {name}: SD {fbp_sd:.1f} -> {sd:.1f} HU, mean {fbp_mean:+.1f} -> "
              f"{mean:+.1f} HU (truth {PHANTOM_TRUTH_HU[name]:+.0f})")
        assert fbp_sd / sd > min_noise_reduction, name
        if max_error_hu is None:
            assert abs(mean - fbp_mean) < 5.0, name
        else:
            assert abs(mean - PHANTOM_TRUTH_HU[name]) < max_error_hu, name


@pytest.mark.parametrize("algorithm, min_noise_reduction", [("pwls", 2.5), ("mbir", 1.5), ("asd-pocs", 1.5)])
def test_every_iterative_algorithm_runs_over_the_astra_protocol(small_phantom_scan, algorithm, min_noise_reduction):
    assert preferred_algorithm(small_phantom_scan.projector) == "pwls"
    assert not isinstance(small_phantom_scan.projector, (QggmrfSolver, AsdPocsSolver))
    _check_iterative(small_phantom_scan, algorithm, min_noise_reduction)


ASD_POCS_FLATTENS = pytest.mark.xfail(reason="generic ASD-POCS from mbirjax's biased FDK: the large first SIRT steps "
                                              "make large TV steps, and the 60 HU insert reads +30 HU", strict=False)


@pytest.mark.slow
@pytest.mark.parametrize("algorithm, min_noise_reduction", [
    ("pwls", 1.5), ("mbir", 1.2), pytest.param("asd-pocs", 1.5, marks=ASD_POCS_FLATTENS)])
def test_every_iterative_algorithm_runs_on_mbirjax(algorithm, min_noise_reduction):
    """mbirjax's own qGGMRF solver for mbir (its capability), the generic solvers for PWLS and ASD-POCS. mbirjax's FDK
    reads water about -54 HU on this 4 mm grid; the data-consistent methods correct it (means within 5 HU of truth)."""
    scan = simulate_scan(*water_phantom(size=48, pixel_mm=4.0, slices=2), backend="mbirjax")
    assert preferred_algorithm(scan.projector) == "mbir"
    _check_iterative(scan, algorithm, min_noise_reduction, max_error_hu=5.0)


def test_unequal_in_plane_spacing_is_projected_exactly(tmp_path, capsys):
    """1.4 x 1.2 mm pixels: the fan-beam backend projects the rectangular pixels (no resampling) and keeps the
    CT numbers; the cone-beam backend, which needs square pixels, refuses in one line (exit 2)."""
    y, x = np.mgrid[:40, :48]
    radius_mm = np.hypot((x - 23.5) * 1.4, (y - 19.5) * 1.2)
    hu = np.where(radius_mm < 24, 40, -1000).astype(np.int16)
    image = sitk.GetImageFromArray(np.repeat(hu[None], 2, 0))
    image.SetSpacing((1.4, 1.2, 3.0))
    sitk.WriteImage(image, str(tmp_path / "ct.nii.gz"))
    assert lowdose(["simulate", str(tmp_path / "ct.nii.gz"), "--dose", "0.5", "--geometry", "fast", "--seed", "0",
                    "-o", str(tmp_path / "low.nii.gz")]) == 0
    low = sitk.ReadImage(str(tmp_path / "low.nii.gz"))
    assert low.GetSpacing() == pytest.approx((1.4, 1.2, 3.0))
    values = sitk.GetArrayFromImage(low)
    assert values[:, radius_mm < 16].mean() == pytest.approx(40, abs=5)
    assert values[:, radius_mm > 30].mean() == pytest.approx(-1000, abs=5)
    capsys.readouterr()
    assert lowdose(["simulate", str(tmp_path / "ct.nii.gz"), "--dose", "0.5", "--backend", "mbirjax",
                    "--geometry", "fast", "-o", str(tmp_path / "other.nii.gz")]) == 2
    error = capsys.readouterr().err.strip()
    assert "square in-plane voxels" in error and len(error.splitlines()) == 1 and "Traceback" not in error
