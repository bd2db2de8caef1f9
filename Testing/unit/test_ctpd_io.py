"""DICOM-CT-PD folders: reading, writing back, and the errors a user sees (issue #12)."""
from __future__ import annotations

import numpy as np
import pydicom
import pytest
from ctpd_phantom import HelicalScanner, scan_phantom, water_phantom, write_ctpd

from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.ctpd_reader import is_projection_folder, read_projection_folder
from LowDoseRobustnessLib.io.ctpd_tags import TAGS
from LowDoseRobustnessLib.io.ctpd_writer import write_projection_folder

TINY = HelicalScanner(rows=4, channels=24, channel_mm=14.0, central_channel=12.75, central_row=2.5, views_per_turn=40,
                      turns=1.5, flying_focal_spot="FFSXYZ")


@pytest.fixture(scope="module")
def tiny_scan():
    return scan_phantom(TINY, water_phantom())


@pytest.mark.parametrize("explicit_vr", [False, True])
def test_geometry_and_values_round_trip(tmp_path, tiny_scan, explicit_vr):
    """What is written is read back: geometry exactly (float32 tags), values to half a stored step."""
    measured = tiny_scan.measured(1.0, seed=3)
    folder = write_ctpd(tmp_path / "scan", tiny_scan, measured, explicit_vr=explicit_vr)
    scan = read_projection_folder(folder)
    p, s = tiny_scan.positions, TINY
    assert scan.n_views == s.n_views and scan.views_per_turn == s.views_per_turn
    assert (scan.detector.rows, scan.detector.channels, scan.detector.shape) == (s.rows, s.channels, s.shape)
    assert scan.detector.central_channel == s.central_channel - 1 and scan.detector.central_row == s.central_row - 1
    assert scan.detector.channel_mm == np.float32(s.channel_mm)
    assert scan.detector.focal_center_to_detector_mm == np.float32(s.source_detector_mm)
    for read, written in ((scan.focal_center_angle_rad, p["phi"]), (scan.focal_center_z_mm, p["z"]),
                          (scan.focal_spot_angle_shift_rad, p["dphi"]), (scan.focal_spot_z_shift_mm, p["dz"]),
                          (scan.focal_spot_radius_shift_mm, p["drho"])):
        np.testing.assert_array_equal(read, written.astype(np.float32))
    np.testing.assert_array_equal(scan.photon_statistics, tiny_scan.photon_statistics)
    assert scan.flying_focal_spot == "FFSXYZ" and scan.projection_type == "HELICAL"
    assert scan.water_attenuation_per_mm == 0.0192
    step = float(pydicom.dcmread(scan.files[0]).RescaleSlope)
    assert np.abs(scan.line_integrals(0, scan.n_views) - measured).max() <= 0.5 * step * 1.01


def test_write_back_keeps_the_headers_and_scales_the_dose(tmp_path, tiny_scan):
    """Thinned values written with the input's headers: values and geometry exact, dose fields scaled, new UIDs."""
    folder = write_ctpd(tmp_path / "scan", tiny_scan, tiny_scan.measured(1.0, seed=3))
    scan = read_projection_folder(folder)
    thinned = scan.line_integrals(0, scan.n_views) + 0.5  # also beyond the stored range: a new slope is chosen
    out = write_projection_folder(scan, tmp_path / "quarter", 0.25, lambda a, b: thinned[a:b], "test thinning")
    again = read_projection_folder(out)
    for name in ("focal_center_angle_rad", "focal_center_z_mm", "focal_spot_z_shift_mm", "focal_spot_angle_shift_rad"):
        np.testing.assert_array_equal(getattr(again, name), getattr(scan, name))
    assert again.detector == scan.detector
    np.testing.assert_allclose(again.photon_statistics, 0.25 * scan.photon_statistics, rtol=1e-6)
    step = float(pydicom.dcmread(again.files[0]).RescaleSlope)
    assert np.abs(again.line_integrals(0, again.n_views) - thinned).max() <= 0.5 * step * 1.01
    source, written = pydicom.dcmread(scan.files[5]), pydicom.dcmread(again.files[5])
    assert written.XRayTubeCurrent == 50 and written.CTDIvol == pytest.approx(2.5)
    assert written.StudyInstanceUID == source.StudyInstanceUID and written.SeriesInstanceUID != source.SeriesInstanceUID
    assert written.SOPInstanceUID != source.SOPInstanceUID and written.ImageType[0] == "DERIVED"
    assert "test thinning" in written.DerivationDescription and written.file_meta.TransferSyntaxUID.is_implicit_VR
    rewritten = write_projection_folder(again, tmp_path / "again", 1.0, again.line_integrals, "unchanged")
    assert all(pydicom.dcmread(a).PixelData == pydicom.dcmread(b).PixelData
               for a, b in zip(read_projection_folder(rewritten).files, again.files))


def test_outputs_are_checked(tmp_path, tiny_scan):
    folder = write_ctpd(tmp_path / "scan", tiny_scan, tiny_scan.noiseless)
    scan = read_projection_folder(folder)
    copy = lambda a, b: scan.line_integrals(a, b)  # noqa: E731
    with pytest.raises(InputError, match="is the measured scan itself"):
        write_projection_folder(scan, folder, 0.5, copy, "x", overwrite=True)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        write_projection_folder(scan, tmp_path / "notes", 0.5, copy, "x")
    with pytest.raises(InputError, match="other files"):
        write_projection_folder(scan, tmp_path / "notes", 0.5, copy, "x", overwrite=True)
    assert (tmp_path / "notes" / "readme.txt").read_text() == "mine"


@pytest.mark.parametrize("omit, message", [
    (("DetectorCentralElement",), r"DetectorCentralElement \(7031,1033\)"),
    (("PhotonStatistics", "ConstantRadialDistance"), r"ConstantRadialDistance \(7031,1031\)"),
    (("SourceAxialPositionShift",), "flying focal spot FFSXYZ but missing SourceAxialPositionShift"),
    (("WaterAttenuationCoefficient",), "no water attenuation coefficient"),
])
def test_missing_tags_are_named(tmp_path, tiny_scan, omit, message):
    folder = write_ctpd(tmp_path / "scan", tiny_scan, tiny_scan.noiseless, omit=omit)
    with pytest.raises(InputError, match=message):
        read_projection_folder(folder)


@pytest.mark.parametrize("overrides, message", [
    ({"DetectorShape": "SPHERICAL"}, "DetectorShape 'SPHERICAL' is not supported"),
    ({"NumberofSpectra": 2}, "dual-source and spectral"),
    ({"FlyingFocalSpotMode": "FFSQ"}, "FlyingFocalSpotMode 'FFSQ' is unknown"),
    ({"TypeofProjectionGeometry": "PARALLEL"}, "TypeofProjectionGeometry 'PARALLEL' is not supported"),
    ({"PhotonStatistics": [1.0, 2.0]}, "PhotonStatistics has 2 values"),
])
def test_unsupported_values_are_named(tmp_path, tiny_scan, overrides, message):
    folder = write_ctpd(tmp_path / "scan", tiny_scan, tiny_scan.noiseless, overrides=overrides)
    with pytest.raises(InputError, match=message):
        read_projection_folder(folder)


def test_every_view_must_share_the_detector(tmp_path, tiny_scan):
    folder = write_ctpd(tmp_path / "scan", tiny_scan, tiny_scan.noiseless)
    odd = pydicom.dcmread(folder / "proj_00007.dcm")
    odd[TAGS["DetectorElementAxialSpacing"].tag].value = np.float32(2.0).tobytes()
    odd.save_as(folder / "proj_00007.dcm")
    with pytest.raises(InputError, match="proj_00007.dcm: DetectorElementAxialSpacing differs"):
        read_projection_folder(folder)


def test_projection_folders_are_recognised(tmp_path, tiny_scan):
    from LowDoseRobustnessLib.io.volumes import write_volume
    from LowDoseRobustnessLib.volume import Volume
    import SimpleITK as sitk

    projections = write_ctpd(tmp_path / "scan", tiny_scan, tiny_scan.noiseless)
    series = tmp_path / "series"
    series.mkdir()
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(3):
        image = sitk.GetImageFromArray(np.zeros((1, 8, 8), np.int16))
        writer.SetFileName(str(series / f"slice{k}.dcm"))
        writer.Execute(image)
    nifti = write_volume(Volume(np.zeros((2, 4, 4), np.float32)), tmp_path / "ct.nii.gz")
    (tmp_path / "empty").mkdir()
    assert is_projection_folder(projections)
    assert not any(is_projection_folder(p) for p in (series, nifti, tmp_path / "empty", tmp_path / "missing"))
