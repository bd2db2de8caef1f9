"""The simulator API, CLI and backends on real CT and small volumes."""
import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu, mu_to_hu
from LowDoseRobustnessLib.errors import BackendUnavailable
from LowDoseRobustnessLib.projection import available_backends, get_projector
from LowDoseRobustnessLib.cli import main as lowdose
from LowDoseRobustnessLib.simulation.dose import mean_counts
from LowDoseRobustnessLib.projection.geometry import ScanGeometry, fast_geometry
from LowDoseRobustnessLib.io.validation import check_ct
from LowDoseRobustnessLib.io.volumes import read_volume
from phantoms import water_cylinder
from LowDoseRobustnessLib.simulation.simulate import (SimulationSettings, calibrate_incident_flux, make_projector,
                                           simulate_dose_series, simulate_low_dose)
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume

FAST = SimulationSettings(geometry="fast")


@pytest.fixture(scope="module")
def real_ct(example_data):
    return read_volume(example_data / "example_ct_sm.nii.gz")


@pytest.fixture(scope="module")
def liver_roi(example_data):
    labels = read_volume(example_data / "example_seg.nii.gz").array
    return ndimage.binary_erosion(labels == 5, iterations=2)


def test_real_ct_keeps_geometry_and_noise_grows_as_predicted(real_ct, liver_roi):
    doses = [0.2, 0.4, 0.6, 0.8]
    outputs = simulate_dose_series(real_ct, doses, FAST, seed=0)
    for volume in outputs.values():
        assert volume.same_grid(real_ct) and volume.array.dtype == np.float32
    # var(out_d) - var(out_100%) = (1/d - 1) sigma_chain^2 with sigma_chain^2 the chain's full-dose noise
    projector = make_projector(real_ct, FAST)
    line_integrals = projector.forward_project(hu_to_mu(real_ct.array))
    sd = np.sqrt(1 / mean_counts(line_integrals, FAST.incident_flux))
    pure_noise = mu_to_hu(projector.reconstruct_fbp(sd * np.random.default_rng(9).standard_normal(sd.shape))) + 1000
    chain_variance = pure_noise[liver_roi].var()
    reference_variance = outputs[1.0].array[liver_roi].var()
    sds = []
    for dose in doses:
        excess = outputs[dose].array[liver_roi].var() - reference_variance
        print(f"dose {dose:.0%}: liver SD {outputs[dose].array[liver_roi].std():.1f} HU, "
              f"excess variance / predicted {excess / ((1 / dose - 1) * chain_variance):.3f}")
        assert excess == pytest.approx((1 / dose - 1) * chain_variance, rel=0.1)
        sds.append(outputs[dose].array[liver_roi].std())
    assert sds == sorted(sds, reverse=True)
    assert abs(outputs[0.2].array[liver_roi].mean() - outputs[1.0].array[liver_roi].mean()) < 5


def test_same_seed_same_bits_other_seed_other_noise(real_ct):
    crop = Volume(real_ct.array[10:14], real_ct.spacing, real_ct.origin, real_ct.direction)
    a = simulate_low_dose(crop, 0.3, FAST, seed=11).array
    b = simulate_low_dose(crop, 0.3, FAST, seed=11).array
    c = simulate_low_dose(crop, 0.3, FAST, seed=12).array
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_calibrated_flux_reproduces_the_measured_noise():
    volume, rois = water_cylinder((8, 96, 96))
    settings = SimulationSettings(geometry="fast", incident_flux=2e5)
    noisy = simulate_low_dose(volume, 0.25, SimulationSettings(geometry="fast", incident_flux=2e5,
                                                                noise_compensation=False), seed=1)
    roi = tuple(slice(s.start, s.stop) for s in ndimage.find_objects(rois["water"].astype(int))[0])
    flux = calibrate_incident_flux(noisy, roi, settings, seed=2)
    # the image holds the noise of I0 * 0.25 minus what the chain keeps of a noiseless phantom (none)
    assert flux == pytest.approx(2e5 * 0.25, rel=0.15)


def test_fbp_reconstructs_water_at_zero_hu():
    volume, rois = water_cylinder((2, 96, 96))
    settings = SimulationSettings(geometry="fast", noise_compensation=False)
    reference = simulate_dose_series(volume, [], settings)[1.0].array
    for name, hu in {"water": 0.0, "fat": -100.0, "bone": 700.0}.items():
        assert reference[rois[name]].mean() == pytest.approx(hu, abs=5.0)


def test_mbirjax_cone_beam_round_trip():
    volume, rois = water_cylinder((8, 48, 48), spacing_mm=4.0, radius_mm=80, insert_radius_mm=14, slice_spacing_mm=4.0)
    geometry = ScanGeometry(mode="cone", detector_column_mm=2.0, detector_columns=200, n_views=120)
    settings = SimulationSettings(geometry=geometry, backend="mbirjax", noise_compensation=False)
    reference = simulate_dose_series(volume, [], settings)[1.0]
    assert reference.same_grid(volume)
    central = np.zeros_like(rois["water"])
    central[3:5] = rois["water"][3:5]
    assert reference.array[central].mean() == pytest.approx(0.0, abs=25.0)


def test_unavailable_or_unknown_backends_are_explained():
    geometry = fast_geometry()
    assert available_backends()["astra"] is None
    reason = available_backends()["tigre"]
    if reason is not None:
        with pytest.raises(BackendUnavailable, match="tigre"):
            get_projector("tigre", geometry, (2, 32, 32), (1.0, 1.0, 1.0))
    with pytest.raises(InputError, match="unknown projector backend"):
        get_projector("gpu-magic", geometry, (2, 32, 32), (1.0, 1.0, 1.0))
    with pytest.raises(BackendUnavailable, match="does not support cone"):
        get_projector("astra", ScanGeometry(mode="cone"), (2, 32, 32), (1.0, 1.0, 1.0))


def test_bad_inputs_get_clear_errors(tmp_path):
    with pytest.raises(InputError, match="3D volume"):
        Volume(np.zeros((32, 32)))
    with pytest.raises(InputError, match="spacing"):
        Volume(np.zeros((2, 32, 32)), (1.0, 0.0, 1.0))
    mr_like = Volume(np.random.default_rng(0).uniform(0, 800, (4, 32, 32)).astype(np.float32))
    with pytest.raises(InputError, match="MR"):
        check_ct(mr_like)  # the input layer every command and the Slicer logic use (Testing/unit/test_bad_input.py)
    mu_like = Volume(np.full((4, 32, 32), 0.019, np.float32))
    with pytest.raises(InputError, match="attenuation"):
        check_ct(mu_like)
    with pytest.raises(InputError, match="NaN"):
        simulate_low_dose(mu_like.with_array(np.full((4, 32, 32), np.nan, np.float32)), 0.5, FAST)
    volume, _ = water_cylinder((2, 32, 32))
    with pytest.raises(InputError, match="dose fraction"):
        simulate_low_dose(volume, 1.2, FAST)
    with pytest.raises(InputError, match="not found"):
        read_volume(tmp_path / "missing.nii.gz")
    with pytest.raises(InputError, match="field of view"):
        ScanGeometry(detector_columns=100).check_covers((1, 512, 512), (1.0, 1.0, 1.0))


def test_cli_simulate_end_to_end(example_data, tmp_path, capsys):
    source = example_data / "example_ct_sm.nii.gz"
    crop = sitk.ReadImage(str(source))[:, :, 12:16]
    sitk.WriteImage(crop, str(tmp_path / "ct.nii.gz"))
    out, ref = tmp_path / "low.nii.gz", tmp_path / "ref.nii.gz"
    args = ["simulate", str(tmp_path / "ct.nii.gz"), "--dose", "0.2", "--geometry", "fast", "--seed", "3",
            "-o", str(out), "--reference", str(ref)]
    assert lowdose(args) == 0
    written, original = sitk.ReadImage(str(out)), crop
    assert written.GetSize() == original.GetSize()
    assert np.allclose(written.GetSpacing(), original.GetSpacing())
    assert np.allclose(written.GetOrigin(), original.GetOrigin())
    assert np.allclose(written.GetDirection(), original.GetDirection())
    before = out.read_bytes()
    assert lowdose(args) == 2  # refuses to overwrite
    assert "already exist" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert lowdose(args + ["--overwrite"]) == 0
    assert lowdose(["simulate", str(tmp_path / "ct.nii.gz"), "--dose", "0", "-o", str(tmp_path / "x.nii.gz")]) == 2
    assert "dose fraction" in capsys.readouterr().err


def test_cli_several_doses_go_to_a_folder(example_data, tmp_path):
    crop = sitk.ReadImage(str(example_data / "example_ct_sm.nii.gz"))[:, :, 12:14]
    sitk.WriteImage(crop, str(tmp_path / "ct.nii.gz"))
    assert lowdose(["simulate", str(tmp_path / "ct.nii.gz"), "--dose", "0.2", "--dose", "0.6", "--geometry", "fast",
                    "-o", str(tmp_path / "series")]) == 0
    assert sorted(p.name for p in (tmp_path / "series").iterdir()) == ["dose_020.nii.gz", "dose_060.nii.gz"]


def test_dicom_series_is_read_in_hu_with_its_geometry(example_data):
    volume = read_volume(example_data / "example_ct_dicom")
    assert volume.array.shape == (20, 512, 512)
    assert np.allclose(volume.spacing, (0.9765625, 0.9765625, 2.0))
    assert volume.array.min() >= -1100 and np.median(volume.array) < -500  # rescale applied: air at -1000 HU
