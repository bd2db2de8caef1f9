"""Kernels in absolute frequency, kernel matching, and the simulator's warnings (small phantoms, "fast" geometry)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import ndimage

from LowDoseRobustnessLib.contract import FBP_FILTERS
from LowDoseRobustnessLib.errors import InputError, SimulationWarning
from LowDoseRobustnessLib.projection.geometry import fast_geometry
from LowDoseRobustnessLib.reconstruction.filters import (Kernel, as_kernel, fft_frequencies, ramp_filter_response,
                                                         window_response)
from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu, mu_to_hu
from LowDoseRobustnessLib.simulation.dose import line_integrals_from_counts, poisson_counts
from LowDoseRobustnessLib.simulation.input_noise import NoiseSample
from LowDoseRobustnessLib.simulation.simulate import SimulationSettings, make_projector, simulate_dose_series
from phantoms import body_ellipse


@pytest.mark.parametrize("name", FBP_FILTERS)
def test_windows_are_defined_in_absolute_frequency(name):
    """The same window in 1/mm for detectors of 0.5 and 0.8 mm; 1 at f = 0; nothing above the grid's Nyquist."""
    grid_nyquist = 1 / 3.0  # 1.5 mm pixels
    responses = []
    for spacing in (0.5, 0.8):
        frequencies = fft_frequencies(400, spacing)
        window = window_response(400, spacing, name, grid_nyquist)
        assert window[0] == pytest.approx(1.0)
        assert np.all(window[frequencies > grid_nyquist] == 0)
        responses.append(np.interp([0.05, 0.1, 0.2, 0.3], frequencies, window))
    assert np.allclose(responses[0], responses[1], atol=0.02)
    ramp = ramp_filter_response(400, 0.5, name, grid_nyquist)
    assert np.all(ramp[fft_frequencies(400, 0.5) > grid_nyquist] == 0)


def test_kernels_compose_and_name_errors_are_clear():
    soft = Kernel(roll_off=(2.0, 0.0))
    combined = soft * as_kernel("hann")
    x = np.linspace(0, 0.3, 7)
    assert np.allclose(combined.window(x, 1 / 3.0), soft.window(x, 1 / 3.0) * as_kernel("hann").window(x, 1 / 3.0)
                       / as_kernel("ram-lak").window(x, 1 / 3.0))
    with pytest.raises(InputError, match="unknown FBP filter"):
        as_kernel("butterworth")


@pytest.fixture(scope="module")
def body_scan():
    """A 16-slice body ellipse (1.5 mm, fast geometry) and a full-dose scan of it at I0 = 2e4."""
    volume, regions = body_ellipse(16)
    settings = SimulationSettings(geometry="fast", incident_flux=2e4)
    projector = make_projector(volume, settings)
    line_integrals = projector.forward_project(hu_to_mu(volume.array))
    counts = poisson_counts(line_integrals, 2e4, np.random.default_rng(3))
    scan = volume.with_array(mu_to_hu(projector.reconstruct_fbp(line_integrals_from_counts(counts, 2e4))))
    return volume, scan, regions


def test_kernel_matching_recovers_a_gaussian_blur(body_scan):
    """A scan blurred by a Gaussian of s = 1 pixel has W(f)^2 = exp(-(2 pi s f)^2): the fit finds it."""
    _, scan, _ = body_scan
    soft = scan.with_array(ndimage.gaussian_filter(scan.array, (0, 1, 1)))
    settings = SimulationSettings(geometry="fast", incident_flux=2e4)
    kernel = NoiseSample(soft, settings).fitted_kernel()
    frequencies = np.array([0.05, 0.1, 0.15])
    expected = np.exp(-(2 * np.pi * 1.5 * frequencies) ** 2 / 2)
    print(f"fitted {kernel.describe()}: W {np.round(kernel.window(frequencies, 1 / 3.0), 3)}, "
          f"Gaussian {np.round(expected, 3)}")
    assert np.allclose(kernel.window(frequencies, 1 / 3.0), expected, atol=0.06)
    assert NoiseSample(scan, settings).fitted_kernel() == Kernel()  # an unblurred scan keeps the ramp


def test_a_wrong_incident_flux_is_named_with_the_one_that_fits(body_scan):
    _, scan, _ = body_scan
    with pytest.warns(SimulationWarning, match=r"I0 = 2\.\d*e\+04 would fit"):
        simulate_dose_series(scan, [0.5], SimulationSettings(geometry="fast", incident_flux=1e5, kernel="ram-lak"))


def test_auto_incident_flux_makes_the_full_dose_output_as_noisy_as_the_input(body_scan):
    """``incident_flux="auto"`` (the default) fits I0 to the scan's noise (2e4 here): no warning, the 100 % output
    keeps the input's noise level and the 25 % output has twice its SD (pure noise: output minus the phantom's
    noise-free reprojection through the same chain), over the body interior."""
    phantom, scan, regions = body_scan
    settings = SimulationSettings(geometry="fast", kernel="ram-lak")
    assert settings.incident_flux == "auto"
    with warnings.catch_warnings():
        warnings.simplefilter("error", SimulationWarning)
        outputs = simulate_dose_series(scan, [0.25], settings, seed=5)
    projector = make_projector(phantom, settings)
    noiseless = mu_to_hu(projector.reconstruct_fbp(projector.forward_project(hu_to_mu(phantom.array))))
    interior = regions["interior"]
    input_sd = np.std((scan.array - noiseless)[:, interior])
    sd = {dose: np.std((outputs[dose].array - noiseless)[:, interior]) for dose in (1.0, 0.25)}
    print(f"input {input_sd:.1f} HU; output 100 % {sd[1.0]:.1f} HU, 25 % {sd[0.25]:.1f} HU")
    assert sd[1.0] == pytest.approx(input_sd, rel=0.05)
    assert sd[0.25] == pytest.approx(2 * input_sd, rel=0.05)


def test_a_noise_free_phantom_gives_no_warning(body_scan):
    phantom, _, _ = body_scan
    with warnings.catch_warnings():
        warnings.simplefilter("error", SimulationWarning)
        simulate_dose_series(phantom, [0.5], SimulationSettings(geometry="fast", incident_flux=2e4))


def test_too_few_views_for_the_grid_are_reported_not_clipped(body_scan):
    """90 views cannot sample a 350 mm body on a 1.5 mm grid: reprojection adds noise where the input had less,
    and the simulator says so (I0 per view raised 4 x, so that the level fits)."""
    _, scan, _ = body_scan
    geometry = fast_geometry(n_views=90)
    with pytest.warns(SimulationWarning, match="too few views"):
        simulate_dose_series(scan, [0.5], SimulationSettings(geometry=geometry, incident_flux=8e4, kernel="ram-lak"))
