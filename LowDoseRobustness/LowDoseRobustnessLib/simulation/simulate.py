"""Projection-domain low-dose simulation (the paper, sec. 3.1).

Two entry points:

* :func:`simulate_dose_series` for a reconstructed CT (what most users have):
  HU -> mu -> forward projection -> add only the noise a lower dose adds to the line
  integrals -> reconstruction -> HU. The 100 % reference goes through the same
  reproject + reconstruct chain, so every output is registered and equally resolved.
* :func:`thin_measured_projections` for measured projections with an air scan:
  counts from line integrals (eq. 1), thinned to dose ``d`` (Zabic et al. 2013, eq. 3,
  or binomial), back to line integrals.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional, Sequence

import numpy as np

from LowDoseRobustnessLib.io.validation import check_finite
from LowDoseRobustnessLib.simulation.attenuation import MU_WATER_PER_MM, hu_to_mu, mu_to_hu
from LowDoseRobustnessLib.projection import Projector, get_projector
from LowDoseRobustnessLib.simulation.dose import (additional_line_integral_sd, check_dose_fraction, check_incident_flux, full_dose_variance,
                   line_integrals_from_counts, mean_counts, thin_counts)
from LowDoseRobustnessLib.projection.geometry import ScanGeometry
from LowDoseRobustnessLib.progress import CancelCheck, Progress, ProgressCallback
from LowDoseRobustnessLib.reconstruction import get_reconstructor
from LowDoseRobustnessLib.contract import DEFAULT_INCIDENT_FLUX, GEOMETRIES
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume


@dataclass(frozen=True)
class SimulationSettings:
    """Everything that defines a simulated acquisition and its reconstruction.

    geometry: a :class:`ScanGeometry` or a preset name ("clinical", "fast"); its detector is
    widened to cover the volume. incident_flux: I0, photons per detector pixel and view at
    full dose. electronic_noise_sd: Gaussian detector noise in counts. reconstruction: a
    name from :data:`.contract.RECONSTRUCTIONS`, with ``reconstruction_options`` (the
    method's keyword arguments, e.g. ``{"filter_name": "hann"}`` or ``{"regularization": 2.0}``).
    noise: a name from :data:`.contract.NOISE_MODES`, used by :func:`.image_noise.simulate_realizations`.
    """

    geometry: ScanGeometry | str = "clinical"
    backend: str = "auto"
    incident_flux: float = DEFAULT_INCIDENT_FLUX
    electronic_noise_sd: float = 0.0
    reconstruction: str = "fbp"
    reconstruction_options: dict = field(default_factory=dict)
    mu_water_per_mm: float = MU_WATER_PER_MM
    noise_compensation: bool = True
    noise: str = "projection"

    def scan_geometry(self, volume: Volume) -> ScanGeometry:
        """The geometry for ``volume``: the preset or given geometry, detector fitted to the volume."""
        geometry = self.geometry
        if isinstance(geometry, str):
            geometry = GEOMETRIES.load(geometry)()
        return geometry.fitted_to(volume.array.shape, volume.spacing)

    @property
    def fbp_filter(self) -> str:
        """The ramp-filter window of the FBP step (FBP itself and FBP-based methods)."""
        return self.reconstruction_options.get("filter_name", "ram-lak")


def make_projector(volume: Volume, settings: SimulationSettings) -> Projector:
    """The projector for the volume's grid (built once; reuse it for every dose level)."""
    return get_projector(settings.backend, settings.scan_geometry(volume), volume.array.shape, volume.spacing)


def _dose_rng(seed: int, dose_fraction: float) -> np.random.Generator:
    """An independent, reproducible stream per (seed, dose level)."""
    return np.random.default_rng([int(seed), int(round(dose_fraction * 1_000_000))])


def simulate_dose_series(volume: Volume, dose_fractions: Sequence[float], settings: SimulationSettings = SimulationSettings(),
                         seed: int = 0, projector: Optional[Projector] = None,
                         progress: Optional[ProgressCallback] = None,
                         cancel: Optional[CancelCheck] = None) -> dict[float, Volume]:
    """Reconstructions in HU at each dose fraction, plus the 100 % reference under key 1.0.

    The input already holds full-dose noise, but reprojection + reconstruction keeps only a
    fraction ``retention`` (alpha^2 < 1) of its variance (:func:`noise_variance_retention`).
    Gaussian noise of variance (1/d - alpha^2) / (I0 e^-p) per line integral p (plus the
    electronic term, :func:`dose.additional_line_integral_sd`) is therefore added, so the
    output holds the noise of a dose-``d`` scan, the 100 % reference included
    (``settings.noise_compensation=False`` assumes alpha^2 = 1: only (1/d - 1) is added and
    the reference gets none). Same seed, same output.
    """
    check_finite(volume.array, "the CT")
    doses = sorted({check_dose_fraction(d) for d in dose_fractions} | {1.0}, reverse=True)
    steps = Progress(3 + len(doses), progress, cancel)
    projector = projector or make_projector(volume, settings)
    steps.step("projector ready")
    reconstruct = get_reconstructor(settings.reconstruction)
    line_integrals = projector.forward_project(hu_to_mu(volume.array, settings.mu_water_per_mm))
    steps.step("forward projection done")
    flux = np.float32(check_incident_flux(settings.incident_flux))
    retention = noise_variance_retention(volume, settings, seed) if settings.noise_compensation else 1.0
    steps.step(f"reprojection keeps {retention:.0%} of the input's noise variance")
    variance = full_dose_variance(line_integrals, flux)
    outputs = {}
    for dose in doses:
        noisy = line_integrals
        if 1.0 / dose - retention > 0:
            sd = additional_line_integral_sd(None, flux, dose, settings.electronic_noise_sd, retention, variance)
            noisy = sd * _dose_rng(seed, dose).standard_normal(sd.shape, dtype=np.float32)
            noisy += line_integrals
        counts = np.float32(dose) / variance if getattr(reconstruct, "uses_counts", True) else None
        mu = reconstruct(noisy, projector, counts=counts, **settings.reconstruction_options)
        outputs[dose] = volume.with_array(mu_to_hu(mu, settings.mu_water_per_mm))
        steps.step(f"reconstructed {dose:.0%} dose")
    return outputs


def _chain_noise(projector: Projector, line_integrals: np.ndarray, incident_flux, filter_name: str,
                 rng: np.random.Generator) -> np.ndarray:
    """FBP (1/mm) of full-dose quantum noise, variance 1/(I0 e^-p) per line integral: this chain's image noise."""
    sd = np.sqrt(full_dose_variance(line_integrals, incident_flux))
    return projector.reconstruct_fbp(sd * rng.standard_normal(sd.shape, dtype=np.float32), filter_name=filter_name)


def noise_variance_retention(volume: Volume, settings: SimulationSettings, seed: int = 0,
                             slab_slices: int = 8) -> float:
    """alpha^2: the fraction of image-noise variance that survives reprojection + reconstruction.

    Full-dose noise of this chain (FBP of line-integral noise of variance 1/(I0 e^-p)) on a
    central slab of the volume is passed through the chain once more; the ratio of the
    variances inside the body (mu > mu_water / 2) is alpha^2. Assumes the input's noise has
    the texture of this chain's noise (same order of resolution; calibrate I0 for its level).
    """
    start = max(0, volume.array.shape[0] // 2 - slab_slices // 2)
    slab = volume if volume.array.shape[0] <= slab_slices else Volume(
        volume.array[start:start + slab_slices], volume.spacing, volume.origin, volume.direction)
    projector = make_projector(slab, settings)
    mu = hu_to_mu(slab.array, settings.mu_water_per_mm)
    noise = _chain_noise(projector, projector.forward_project(mu), settings.incident_flux, settings.fbp_filter,
                         np.random.default_rng([int(seed), 7]))
    again = projector.reconstruct_fbp(projector.forward_project(noise), filter_name=settings.fbp_filter)
    body = mu > 0.5 * settings.mu_water_per_mm
    if body.sum() < 100:
        raise InputError("the volume holds almost no tissue denser than half water; is it a CT in HU?")
    return float(np.clip(np.var(again[body]) / np.var(noise[body]), 0.0, 1.0))


def simulate_low_dose(volume: Volume, dose_fraction: float, settings: SimulationSettings = SimulationSettings(),
                      seed: int = 0, **kwargs) -> Volume:
    """The dose-``d`` reconstruction of a CT volume in HU (see :func:`simulate_dose_series`)."""
    return simulate_dose_series(volume, [dose_fraction], settings, seed, **kwargs)[check_dose_fraction(dose_fraction)]


def thin_measured_projections(line_integrals: np.ndarray, incident_flux, dose_fraction: float, seed: int = 0,
                              method: str = "zabic", electronic_noise_sd: float = 0.0) -> np.ndarray:
    """Line integrals of a dose-``d`` scan from measured full-dose ones (the paper's sec. 3.1).

    ``incident_flux`` is the air-scan I0 per detector pixel (scalar or broadcastable to the
    projections). Counts n_a = I0 exp(-l) (eq. 1) are thinned to n_b (eq. 3, :func:`dose.thin_counts`)
    and converted back with the dose-``d`` flux d I0: l_b = ln(d I0 / n_b).
    """
    dose = check_dose_fraction(dose_fraction)
    counts = mean_counts(line_integrals, incident_flux)
    thinned = thin_counts(counts, dose, _dose_rng(seed, dose), method, electronic_noise_sd)
    return line_integrals_from_counts(thinned, dose * check_incident_flux(incident_flux))


def calibrate_incident_flux(volume: Volume, roi: tuple[slice, slice, slice], settings: SimulationSettings = SimulationSettings(),
                            seed: int = 0, projector: Optional[Projector] = None) -> float:
    """I0 that reproduces the noise SD measured in a homogeneous ROI ``[z, y, x]`` of the input.

    Quantum noise variance in the image scales as 1/I0, so reconstructing pure full-dose
    noise (variance 1/(I0' e^-p)) at a trial I0' and measuring its SD sigma' in the ROI gives
    I0 = I0' (sigma' / sigma_input)^2. The ROI must be uniform tissue (e.g. liver, fat, water):
    anatomy inside it inflates sigma_input and lowers I0.
    """
    check_finite(volume.array, "the CT")
    measured_sd = float(np.std(volume.array[roi]))
    if not measured_sd > 0:
        raise InputError("the calibration ROI has no noise (constant values); choose a region of uniform tissue")
    projector = projector or make_projector(volume, settings)
    line_integrals = projector.forward_project(hu_to_mu(volume.array, settings.mu_water_per_mm))
    trial_flux = check_incident_flux(settings.incident_flux)
    noise_mu = _chain_noise(projector, line_integrals, trial_flux, settings.fbp_filter, np.random.default_rng(seed))
    simulated_sd = float(np.std(noise_mu[roi])) * 1000.0 / settings.mu_water_per_mm
    return float(trial_flux * (simulated_sd / measured_sd) ** 2)


def with_incident_flux(settings: SimulationSettings, incident_flux: float) -> SimulationSettings:
    """A copy of ``settings`` with another I0 (e.g. from :func:`calibrate_incident_flux`)."""
    return replace(settings, incident_flux=float(incident_flux))
