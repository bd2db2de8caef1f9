"""Validation of the measured-projection path (thinning) on a water phantom with inserts (issue: simulator).

Noise is measured as the SD of (noisy - noiseless) reconstructions inside 6 ROIs, so the
deterministic discretisation error of the phantom's edges does not count as noise. The
reconstructed-CT mode is validated on a body-sized phantom in test_simulator_noise_validation.py.
"""
import numpy as np
import pytest

from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu, mu_to_hu
from LowDoseRobustnessLib.projection import get_projector
from LowDoseRobustnessLib.simulation.dose import line_integrals_from_counts, poisson_counts
from LowDoseRobustnessLib.projection.geometry import fast_geometry
from image_quality import noise_sd_ratio
from phantoms import water_cylinder
from LowDoseRobustnessLib.simulation.simulate import thin_measured_projections

FLUX = 1.0e5
DOSES = (0.2, 0.4, 0.6, 0.8)


@pytest.fixture(scope="module")
def phantom_scan():
    volume, rois = water_cylinder((96, 128, 128))
    geometry = fast_geometry().fitted_to(volume.array.shape, volume.spacing)
    projector = get_projector("cpu", geometry, volume.array.shape, volume.spacing)
    line_integrals = projector.forward_project(hu_to_mu(volume.array))
    noiseless = mu_to_hu(projector.reconstruct_fbp(line_integrals))

    def reconstruct(projections):
        return mu_to_hu(projector.reconstruct_fbp(projections))

    def direct(dose, seed):
        counts = poisson_counts(line_integrals, dose * FLUX, np.random.default_rng(seed))
        return reconstruct(line_integrals_from_counts(counts, dose * FLUX))

    measured = line_integrals_from_counts(poisson_counts(line_integrals, FLUX, np.random.default_rng(1)), FLUX)
    return dict(volume=volume, rois=rois, geometry=geometry, projector=projector, noiseless=noiseless,
                reconstruct=reconstruct, direct=direct, measured=measured)


def noise_sd(image, noiseless, roi):
    return float((image - noiseless)[roi].std())


@pytest.mark.parametrize("method", ["zabic", "binomial"])
def test_thinning_matches_a_direct_low_flux_simulation(phantom_scan, method):
    """Noise SD ratio thinned / direct per ROI and dose within 2 %, or 3 standard errors (per-slice spread)."""
    s = phantom_scan
    worst, worst_se = 0.0, 0.0
    for dose in DOSES:
        thinned = s["reconstruct"](thin_measured_projections(s["measured"], FLUX, dose, seed=2, method=method))
        direct = s["direct"](dose, seed=3)
        for name, roi in s["rois"].items():
            ratio, se = noise_sd_ratio(thinned - s["noiseless"], direct - s["noiseless"], roi[0])
            assert abs(ratio - 1) < max(0.02, 3 * se), (name, dose, ratio, se)
            if abs(ratio - 1) > worst:
                worst, worst_se = abs(ratio - 1), se
    print(f"thinning ({method}) vs direct simulation: worst noise-SD difference {worst:.2%} (+- {worst_se:.2%}) "
          "over 6 ROIs x 4 doses")
    assert len(s["rois"]) >= 5


def test_quantum_noise_scales_with_inverse_root_dose_and_means_stay(phantom_scan):
    s = phantom_scan
    full = s["reconstruct"](s["measured"])
    worst_scaling, worst_shift = 0.0, 0.0
    for dose in DOSES:
        low = s["reconstruct"](thin_measured_projections(s["measured"], FLUX, dose, seed=4))
        for roi in s["rois"].values():
            scaling = noise_sd(low, s["noiseless"], roi) / noise_sd(full, s["noiseless"], roi) * np.sqrt(dose)
            worst_scaling = max(worst_scaling, abs(scaling - 1))
            worst_shift = max(worst_shift, abs(float(low[roi].mean() - full[roi].mean())))
    print(f"1/sqrt(d) law: worst deviation {worst_scaling:.2%}; worst ROI mean shift {worst_shift:.2f} HU")
    assert worst_scaling < 0.03  # the largest of 24 ratios, each with a standard error of about 1 %
    assert worst_shift < 2.0
