"""The photon-count model: Beer's law, thinning (Zabic eq. 3 / binomial), floors, additional noise."""
import numpy as np
import pytest

from LowDoseRobustnessLib.simulation.dose import (COUNT_FLOOR, line_integral_noise,
                                                  line_integrals_from_counts, mean_counts, poisson_counts, thin_counts)
from LowDoseRobustnessLib.errors import InputError


@pytest.mark.parametrize("method", ["zabic", "binomial"])
@pytest.mark.parametrize("dose", [0.2, 0.5, 0.8])
def test_thinned_poisson_counts_are_poisson_at_the_lower_dose(method, dose):
    rng = np.random.default_rng(0)
    counts = rng.poisson(400.0, 400_000).astype(float)
    thinned = thin_counts(counts, dose, rng, method)
    assert thinned.mean() == pytest.approx(400 * dose, rel=0.005)
    assert thinned.var() == pytest.approx(400 * dose, rel=0.02)  # Poisson: variance = mean


def test_full_dose_returns_the_counts_unchanged():
    counts = np.array([0.0, 3.0, 100.0])
    assert np.array_equal(thin_counts(counts, 1.0, np.random.default_rng(0)), counts)


def test_electronic_noise_keeps_its_level_after_thinning():
    rng = np.random.default_rng(1)
    sigma_e, dose = 20.0, 0.25
    measured = rng.poisson(1000.0, 400_000) + rng.normal(0, sigma_e, 400_000)
    thinned = thin_counts(measured, dose, rng, electronic_noise_sd=sigma_e)
    assert thinned.var() == pytest.approx(1000 * dose + sigma_e ** 2, rel=0.02)


def test_photon_starved_rays_stay_finite():
    rng = np.random.default_rng(2)
    line_integrals = np.full(10_000, 14.0)  # e^-14 * 1e4 photons: almost all zero
    counts = poisson_counts(line_integrals, 1e4, rng, electronic_noise_sd=5.0)
    assert (counts <= 0).any()
    recovered = line_integrals_from_counts(counts, 1e4)
    assert np.all(np.isfinite(recovered))
    assert recovered.max() == pytest.approx(np.log(1e4 / COUNT_FLOOR), rel=1e-6)


@pytest.mark.parametrize("low_signal", ["corrected", "none"])
@pytest.mark.parametrize("counts", [2.0, 10.0, 40.0, 60.0, 1000.0])
def test_line_integral_noise_has_the_moments_of_a_real_acquisition(counts, low_signal):
    """Exact Poisson below EXACT_BELOW_COUNTS, Gaussian with the log's moments to order 1/m above: both as direct."""
    rng = np.random.default_rng(3)
    line_integrals = np.full((100, 40, 100), np.log(1e4 / counts), np.float32)
    simulated = line_integral_noise(line_integrals, 1e4, rng, low_signal=low_signal)
    direct = line_integrals_from_counts(poisson_counts(line_integrals, 1e4, rng), 1e4, low_signal) - line_integrals
    assert simulated.dtype == np.float32
    assert float(simulated.mean()) == pytest.approx(float(direct.mean()), abs=0.003 + 0.02 * abs(float(direct.mean())))
    assert float(simulated.var()) == pytest.approx(float(direct.var()), rel=0.03)


def test_the_low_signal_correction_removes_the_bias_of_the_log():
    """E[ln(n + 1/2)] - ln m stays within 0.03 down to m = 2; the raw log's bias is about +1/(2m) in l."""
    rng = np.random.default_rng(4)
    for counts in (2.0, 5.0, 20.0):
        n = rng.poisson(counts, 2_000_000)
        corrected = line_integrals_from_counts(n, counts).mean()
        raw = line_integrals_from_counts(n, counts, low_signal="none").mean()
        assert abs(corrected) < 0.03
        assert raw > 0.4 / counts if counts > 2 else raw > 0.1


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan")])
def test_dose_outside_the_unit_interval_is_refused(bad):
    with pytest.raises(InputError, match="dose fraction"):
        thin_counts(np.ones(3), bad, np.random.default_rng(0))


def test_non_positive_flux_is_refused():
    with pytest.raises(InputError, match="incident flux"):
        mean_counts(np.zeros(3), 0.0)
