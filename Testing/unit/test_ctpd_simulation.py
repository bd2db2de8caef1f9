"""Lower-dose scans from measured DICOM-CT-PD projections: thinning statistics, CLI, write-back (issue #12)."""
from __future__ import annotations

import importlib.util

import numpy as np
import pydicom
import pytest
from ctpd_scans import GRID, helical_folders  # noqa: F401 (fixture)
from shared_data import REPOSITORY

from LowDoseRobustnessLib.cli import main
from LowDoseRobustnessLib.io.ctpd_reader import read_projection_folder
from LowDoseRobustnessLib.io.volumes import read_volume
from LowDoseRobustnessLib.simulation.measured import simulate_from_projections, thinned_line_integrals

GRID_ARGUMENTS = ["--matrix", "96", "--fov-mm", "192", "--slice-mm", "2"]
NOISE_RADIUS_MM = 70.0
"""Noise is measured inside this radius (the phantom's is 80 mm), on every slice."""


@pytest.fixture(scope="module")
def reconstructions(helical_folders):  # noqa: F811
    """Noiseless, direct 25 % dose, and the full-dose scan thinned to 25 % by each method (seed 0)."""
    out = {"noiseless": simulate_from_projections(helical_folders.noiseless, [], grid=GRID)[1.0],
           "direct": simulate_from_projections(helical_folders.quarter, [], grid=GRID)[1.0]}
    for method in ("zabic", "binomial"):
        series = simulate_from_projections(helical_folders.full, [0.25], grid=GRID, thinning=method)
        out[method], out["full"] = series[0.25], series[1.0]
    return out


def noise_sd(volume, noiseless) -> float:
    n = volume.array.shape[1]
    y, x = np.mgrid[:n, :n] - (n - 1) / 2
    inside = np.hypot(x, y) * volume.spacing[0] < NOISE_RADIUS_MM
    return float((volume.array - noiseless.array)[:, inside].std())


@pytest.mark.parametrize("method", ["zabic", "binomial"])
def test_thinned_measured_scan_has_the_noise_of_a_direct_low_dose_scan(reconstructions, method):
    """Thinning the DICOM-CT-PD full-dose counts to 25 % gives the noise SD of a scan made at 25 % (within 2 %)."""
    r = reconstructions
    thinned, direct, full = (noise_sd(r[k], r["noiseless"]) for k in (method, "direct", "full"))
    print(f"{method}: noise SD thinned {thinned:.2f} HU, direct 25 % scan {direct:.2f} HU "
          f"({thinned / direct - 1:+.2%}); full dose {full:.2f} HU (x{thinned / full:.2f}, 1/sqrt(0.25) = 2)")
    assert abs(thinned / direct - 1) < 0.02
    assert abs(np.mean(r[method].array - r["full"].array)) < 2.0


def test_blocks_of_slices_give_the_same_volumes(monkeypatch, helical_folders, reconstructions):  # noqa: F811
    """A long scan is done in blocks of slices (each view read once, thinned by its own stream): same result."""
    from LowDoseRobustnessLib.simulation import measured

    monkeypatch.setattr(measured, "VIEW_BUFFER_BYTES", 1)
    monkeypatch.setattr(measured, "MIN_SLICES_PER_BLOCK", 4)
    series = simulate_from_projections(helical_folders.full, [0.25], grid=GRID)
    np.testing.assert_array_equal(series[0.25].array, reconstructions["zabic"].array)
    np.testing.assert_array_equal(series[1.0].array, reconstructions["full"].array)


def test_lowdose_simulate_takes_a_projection_folder(tmp_path, helical_folders, reconstructions):  # noqa: F811
    """The CLI gives the library's volumes; --save-projections writes thinned DICOM-CT-PD that reconstruct the same."""
    low, full, saved = tmp_path / "low.nii.gz", tmp_path / "full.nii.gz", tmp_path / "projections_025"
    code = main(["simulate", str(helical_folders.full), "--dose", "0.25", "-o", str(low), "--reference", str(full),
                 "--save-projections", str(saved), *GRID_ARGUMENTS])
    assert code == 0
    np.testing.assert_array_equal(read_volume(low).array, reconstructions["zabic"].array)
    np.testing.assert_array_equal(read_volume(full).array, reconstructions["full"].array)
    measured, written = read_projection_folder(helical_folders.full), read_projection_folder(saved)
    np.testing.assert_allclose(written.photon_statistics, 0.25 * measured.photon_statistics, rtol=1e-6)
    expected = thinned_line_integrals(measured, 0, measured.n_views, 0.25, seed=0)
    step = max(float(pydicom.dcmread(f).RescaleSlope) for f in written.files[:50])
    assert np.abs(written.line_integrals(0, 50) - expected[:50]).max() <= 0.51 * step
    header = pydicom.dcmread(written.files[0])
    assert header.XRayTubeCurrent == 50 and "zabic thinning" in header.DerivationDescription
    again = simulate_from_projections(saved, [], grid=GRID)[1.0]
    difference = np.abs(again.array - reconstructions["zabic"].array)
    print(f"reconstruction of the written projections vs the simulated volume: max {difference.max():.3f} HU")
    assert difference.max() < 0.5


@pytest.mark.parametrize("arguments, message", [
    (["--incident-flux", "2e5"], "--incident-flux does not apply to measured projections"),
    (["--calibrate-roi", "0:2,0:4,0:4"], "--calibrate-roi does not apply to measured projections"),
    (["--z-range=-40:0"], "this scan can give"),
])
def test_options_that_do_not_apply_are_refused(tmp_path, capsys, helical_folders, arguments, message):  # noqa: F811
    code = main(["simulate", str(helical_folders.full), "--dose", "0.5", "-o", str(tmp_path / "low.nii.gz"),
                 *GRID_ARGUMENTS, *arguments])
    assert code == 2 and message in capsys.readouterr().err


def test_projection_options_need_a_projection_folder(tmp_path, capsys):
    from LowDoseRobustnessLib.contract import SAMPLE_CT

    code = main(["simulate", str(SAMPLE_CT), "--dose", "0.5", "-o", str(tmp_path / "low.nii.gz"),
                 "--save-projections", str(tmp_path / "p")])
    assert code == 2 and "--save-projections applies only to measured projections" in capsys.readouterr().err


def test_existing_outputs_are_refused_before_any_work(tmp_path, capsys, helical_folders):  # noqa: F811
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "mine.txt").write_text("keep")
    code = main(["simulate", str(helical_folders.full), "--dose", "0.5", "-o", str(tmp_path / "low.nii.gz"),
                 "--save-projections", str(tmp_path / "p"), "--overwrite", *GRID_ARGUMENTS])
    assert code == 2 and "holds other files than DICOM-CT-PD projections" in capsys.readouterr().err
    assert not (tmp_path / "low.nii.gz").exists()


def test_quarter_dose_comparison_script_runs(tmp_path, capsys, helical_folders):  # noqa: F811
    """The Grand Challenge comparison, here on generated data (independent quarter-dose scan: image SD ratio ~1)."""
    path = REPOSITORY / "LowDoseRobustness" / "Scripts" / "compare_quarter_dose.py"
    spec = importlib.util.spec_from_file_location("compare_quarter_dose", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    code = script.main([str(helical_folders.full), str(helical_folders.quarter), "--matrix", "96", "--fov-mm", "192",
                        "--slice-mm", "2", "--z-range=-4:4", "--roi", "0:5,30:66,30:66", "-o", str(tmp_path)])
    printed = capsys.readouterr().out
    ratio = float(printed.split("image ")[1].split()[0])
    assert code == 0 and abs(ratio - 1) < 0.05
    assert (tmp_path / "comparison.csv").is_file() and (tmp_path / "nps.png").is_file()
