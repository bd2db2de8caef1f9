"""Projection-domain low-dose simulation (the paper, sec. 3.1).

Two entry points:

* :func:`simulate_dose_series` for a reconstructed CT (what most users have):
  HU -> mu -> forward projection -> reconstruction of the noiseless reprojection (the signal)
  plus the noise of a dose-``d`` acquisition of it, scaled locally so that the input's own,
  measured noise and the added noise make the noise of a dose-``d`` scan at every location
  (:mod:`.noise_accounting`). The 100 % reference goes through the same chain, so every output
  is registered, equally resolved and equally noisy as a real scan at that dose.
* :func:`thin_measured_projections` for measured projections with an air scan:
  counts from line integrals (eq. 1), thinned to dose ``d`` (Zabic et al. 2013, eq. 3,
  or binomial), back to line integrals (with the low-signal log of choice).
"""
from __future__ import annotations

import warnings
from dataclasses import replace
from functools import partial
from typing import Optional, Sequence

import numpy as np

from LowDoseRobustnessLib.contract import KERNEL_AUTO
from LowDoseRobustnessLib.errors import SimulationWarning
from LowDoseRobustnessLib.io.validation import check_finite
from LowDoseRobustnessLib.progress import CancelCheck, Progress, ProgressCallback
from LowDoseRobustnessLib.projection import Projector
from LowDoseRobustnessLib.reconstruction import get_reconstructor
from LowDoseRobustnessLib.reconstruction.filters import Kernel, as_kernel
from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu, mu_to_hu
from LowDoseRobustnessLib.simulation.dose import (check_dose_fraction, check_incident_flux, line_integral_noise,
                                                  line_integrals_from_counts, mean_counts, thin_counts)
from LowDoseRobustnessLib.simulation.input_noise import InputNoise, NoiseSample, body_interior, calibrated_noise
from LowDoseRobustnessLib.simulation.noise_accounting import (Shortfall, add_dose_noise, per_ray_gain,
                                                              retained_band_variances)
from LowDoseRobustnessLib.simulation.noise_maps import by_slabs
from LowDoseRobustnessLib.simulation.settings import SimulationSettings, make_projector
from LowDoseRobustnessLib.volume import Volume

AMPLIFICATION_MARGIN = 0.05
AMPLIFICATION_SHARE = 0.1
"""A warning when the signal holds over 5 % more than the input's noise variance in over 10 % of the body."""

__all__ = ["SimulationSettings", "calibrate_incident_flux", "make_projector", "simulate_dose_series",
           "simulate_low_dose", "thin_measured_projections", "with_incident_flux"]


def _dose_rng(seed: int, dose_fraction: float) -> np.random.Generator:
    """An independent, reproducible stream per (seed, dose level)."""
    return np.random.default_rng([int(seed), int(round(dose_fraction * 1_000_000))])


def simulate_dose_series(volume: Volume, dose_fractions: Sequence[float], settings: SimulationSettings = SimulationSettings(),
                         seed: int = 0, projector: Optional[Projector] = None,
                         progress: Optional[ProgressCallback] = None,
                         cancel: Optional[CancelCheck] = None) -> dict[float, Volume]:
    """Reconstructions in HU at each dose fraction, plus the 100 % reference under key 1.0.

    Each output holds the noise of a dose-``d`` scan at the settings' I0 (``auto``: the I0 that fits
    the input's noise, so the 100 % output is as noisy as the input) with the input's kernel
    (``settings.kernel``; ``auto`` fits it to the input's noise): the input's own noise, as much of
    it as the chain keeps (measured; none with ``settings.input_noise="none"``), plus the rest from
    an acquisition at d I0 (:func:`.dose.line_integral_noise`, with the low-signal log of
    ``settings.low_signal``). FBP-based reconstructions add it to the FBP image locally and per
    frequency band (:func:`.noise_accounting.add_dose_noise`); the others get noisy projections
    (:func:`.noise_accounting.per_ray_gain`). Warns (:class:`.errors.SimulationWarning`) when the
    input's noise does not fit I0 and the kernel. Same seed, same output.
    """
    check_finite(volume.array, "the CT")
    doses = sorted({check_dose_fraction(d) for d in dose_fractions} | {1.0}, reverse=True)
    steps = Progress(4 + len(doses), progress, cancel)
    projector = projector or make_projector(volume, settings)
    steps.step("projector ready")
    reconstruct = get_reconstructor(settings.reconstruction)
    line_integrals = projector.forward_project(hu_to_mu(volume.array, settings.mu_water_per_mm))
    steps.step("forward projection done")
    options = dict(settings.reconstruction_options)
    output_filter = as_kernel(options.pop("filter_name", "ram-lak"))
    kernel, input_noise, flux = _input_noise(volume, settings, seed)
    noisy_input = input_noise is not None and not input_noise.noise_free
    steps.step(_describe(input_noise, kernel, flux, settings.fitted_flux and noisy_input))
    after_fbp = getattr(reconstruct, "after_fbp", False)
    fbp_based = after_fbp is not False
    # FBP is linear: a noise-free input whose noise takes the output's kernel gets FBP(p + noise), one FBP per dose
    one_fbp = fbp_based and not noisy_input and kernel * output_filter == output_filter
    signal = (projector.reconstruct_fbp(line_integrals, filter_name=output_filter)
              if (fbp_based and not one_fbp) or noisy_input else None)
    body = volume.array > -500
    outputs, retained = {}, []
    for dose in doses:
        noise = line_integral_noise(line_integrals, dose * flux, _dose_rng(seed, dose), settings.electronic_noise_sd,
                                    settings.low_signal)
        noise_image = (projector.reconstruct_fbp(noise, filter_name=kernel * output_filter)
                       if (fbp_based and not one_fbp) or (noisy_input and not retained) else None)
        if noisy_input and not retained:  # the 100 % dose comes first: its noise is the reference
            retained = _retained_noise(signal, noise_image, input_noise, body_interior(volume.array, volume.spacing),
                                       volume.spacing)
        if one_fbp:
            mu = projector.reconstruct_fbp(line_integrals + noise, filter_name=output_filter)
        elif fbp_based:
            shortfall = Shortfall()
            mu = by_slabs(partial(add_dose_noise, spacing_mm=volume.spacing, shortfall=shortfall),
                          signal, noise_image, body, *retained[:-1])
            if not (settings.fitted_flux and dose == 1.0):  # a fitted I0 keeps the input's noise at 100 % by design
                shortfall.warn(dose)
        else:
            if retained:
                noise *= per_ray_gain(projector, sum(retained[:-1]), retained[-1], body, dose)
            counts = mean_counts(line_integrals, dose * flux) if getattr(reconstruct, "uses_counts", True) else None
            mu = reconstruct(line_integrals + noise, projector, counts=counts, **settings.reconstruction_options)
        if after_fbp:
            mu = after_fbp(mu, **options)
        outputs[dose] = volume.with_array(mu_to_hu(mu, settings.mu_water_per_mm))
        steps.step(f"reconstructed {dose:.0%} dose")
    return outputs


def _input_noise(volume: Volume, settings: SimulationSettings,
                 seed: int) -> tuple[Kernel, Optional[InputNoise], float]:
    """The noise kernel, the input's noise against the chain's (None: declared noise-free) and I0.

    A fitted I0 (``auto``) is the one at which the chain's full-dose noise equals the input's;
    a noise-free input keeps the trial I0 (:data:`.contract.DEFAULT_INCIDENT_FLUX`). A given I0
    that does not fit the input's noise gives a warning naming the one that would.
    """
    flux = settings.trial_incident_flux  # checked by the settings
    if settings.input_noise == "none":
        return as_kernel("ram-lak" if settings.kernel == KERNEL_AUTO else settings.kernel), None, flux
    sample = NoiseSample(volume, settings, seed)
    kernel = sample.fitted_kernel() if settings.kernel == KERNEL_AUTO else as_kernel(settings.kernel)
    input_noise = sample.assess(kernel)
    if settings.fitted_flux and not input_noise.noise_free:
        flux = input_noise.fitted_incident_flux
        input_noise = replace(input_noise, predicted_sd_hu=input_noise.measured_sd_hu, incident_flux=flux)
    elif input_noise.mismatch():
        warnings.warn(SimulationWarning(input_noise.mismatch()), stacklevel=3)
    return kernel, input_noise, flux


def _retained_noise(signal: np.ndarray, reference: np.ndarray, input_noise: InputNoise, region: np.ndarray,
                    spacing_mm) -> list[np.ndarray]:
    """[V_r,b per band..., V_1]: the input's noise the signal kept, and the chain's full-dose noise ``reference``.

    Warns when the signal holds more of the input's noise than the input did: reprojection and
    reconstruction then add noise of their own (angular undersampling), which no dose takes away.
    """
    retained = by_slabs(partial(retained_band_variances, spacing_mm=spacing_mm), signal, reference, region)
    kept = sum(retained[:-1])[region] / retained[-1][region] * (input_noise.predicted_sd_hu /
                                                                input_noise.measured_sd_hu) ** 2
    share = float(np.mean(kept > 1.0 + AMPLIFICATION_MARGIN))
    if share > AMPLIFICATION_SHARE:
        warnings.warn(SimulationWarning(
            f"reprojection and reconstruction add noise of their own in {share:.0%} of the body (up to "
            f"{np.percentile(kept, 99):.2f} x the input's noise variance comes out): the geometry has too few views "
            "for this grid (about 4 pi R / pixel views per turn sample a body of radius R)"), stacklevel=4)
    return retained


def _describe(input_noise: Optional[InputNoise], kernel: Kernel, flux: float, fitted: bool) -> str:
    if input_noise is None or input_noise.noise_free:
        return f"noise-free input; I0 = {flux:.3g}, noise kernel {kernel.describe()}"
    if fitted:
        return (f"input noise {input_noise.measured_sd_hu:.1f} HU; I0 fitted to it: {flux:.3g}; "
                f"kernel {kernel.describe()}")
    return (f"input noise {input_noise.measured_sd_hu:.1f} HU (this chain at I0 = {flux:.3g}: "
            f"{input_noise.predicted_sd_hu:.1f} HU), kernel {kernel.describe()}")


def simulate_low_dose(volume: Volume, dose_fraction: float, settings: SimulationSettings = SimulationSettings(),
                      seed: int = 0, **kwargs) -> Volume:
    """The dose-``d`` reconstruction of a CT volume in HU (see :func:`simulate_dose_series`)."""
    return simulate_dose_series(volume, [dose_fraction], settings, seed, **kwargs)[check_dose_fraction(dose_fraction)]


def thin_measured_projections(line_integrals: np.ndarray, incident_flux, dose_fraction: float, seed: int = 0,
                              method: str = "zabic", electronic_noise_sd: float = 0.0,
                              low_signal: str = "corrected") -> np.ndarray:
    """Line integrals of a dose-``d`` scan from measured full-dose ones (the paper's sec. 3.1).

    ``incident_flux`` is the air-scan I0 per detector pixel (scalar or broadcastable to the
    projections). Counts n_a = I0 exp(-l) (eq. 1) are thinned to n_b (eq. 3, :func:`dose.thin_counts`)
    and converted back with the dose-``d`` flux d I0: l_b = ln(d I0 / (n_b + c)), c = 1/2 with the
    low-signal correction of clinical scanners (``low_signal="corrected"``), 0 for the raw log of an
    uncorrected detector (``"none"``; +12 to +45 HU next to bone at 5-10 % dose).
    """
    dose = check_dose_fraction(dose_fraction)
    counts = mean_counts(line_integrals, incident_flux)
    thinned = thin_counts(counts, dose, _dose_rng(seed, dose), method, electronic_noise_sd)
    return line_integrals_from_counts(thinned, dose * check_incident_flux(incident_flux), low_signal)


def calibrate_incident_flux(volume: Volume, roi: tuple[slice, slice, slice],
                            settings: SimulationSettings = SimulationSettings(), seed: int = 0) -> float:
    """I0 at which this chain's full-dose noise equals the input's in a uniform ROI ``[z, y, x]``.

    The ROI's noise is measured from slice differences, so anatomy shared by neighbouring slices
    and any fixed pattern of the reconstruction cancel; this chain's full-dose noise at the trial
    I0' = ``settings.incident_flux`` (``auto``: :data:`.contract.DEFAULT_INCIDENT_FLUX`), with the input's kernel (``settings.kernel``; ``auto``:
    fitted), is reconstructed on the ROI's slices. Image variance scales as 1/I0, so
    I0 = I0' sigma'^2 / sigma^2 (:func:`.input_noise.calibrated_noise`).
    """
    check_finite(volume.array, "the CT")
    return calibrated_noise(volume, roi, settings, seed).fitted_incident_flux


def with_incident_flux(settings: SimulationSettings, incident_flux: float) -> SimulationSettings:
    """A copy of ``settings`` with another I0 (e.g. from :func:`calibrate_incident_flux`)."""
    return replace(settings, incident_flux=float(incident_flux))
