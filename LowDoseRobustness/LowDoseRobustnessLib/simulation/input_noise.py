"""The noise a reconstructed-CT input holds: its level, its kernel, and how much of it the chain keeps.

On a sample of slices (:class:`NoiseSample`), the input's noise is seen in its slice differences
D (:func:`.noise_maps.slice_differences`) and this chain's own full-dose noise is simulated: the
FBP of one acquisition's line-integral noise at I0 (:func:`.dose.line_integral_noise`) of the
reprojected slices. Their comparison gives:

* the level: kappa = var(input noise) / var(chain noise), robust to anatomy
  (:func:`.noise_maps.noise_scale_map`); I0 / kappa is the incident flux that fits the input;
* the kernel (``auto``): their noise power spectra, inside the noise-dominated part of the body
  (:mod:`.kernel_matching`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import ndimage

from LowDoseRobustnessLib.contract import KERNEL_AUTO
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.reconstruction.filters import FilterSpec, Kernel, as_kernel
from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu
from LowDoseRobustnessLib.simulation.dose import line_integral_noise
from LowDoseRobustnessLib.simulation.kernel_matching import fit_kernel
from LowDoseRobustnessLib.simulation.noise_maps import (local_mean_variance, noise_scale_map,
                                                        radial_noise_power_spectrum, robust_noise_ratio,
                                                        slice_differences, smooth_map)
from LowDoseRobustnessLib.simulation.settings import SimulationSettings, make_projector
from LowDoseRobustnessLib.volume import Volume

SAMPLE_SLICES = 32
"""Slices (evenly spaced through the volume) on which the input's noise is assessed."""
NOISE_FREE_BELOW = 0.1
"""Measured over predicted noise SD below which an input counts as noise-free (kernel auto: ram-lak)."""
FAR_FROM_PREDICTED = 1.3
"""Measured and predicted noise SD further apart than this factor give a warning naming the I0 that fits."""
BODY_MARGIN_MM = 10.0
"""The input's noise is measured inside the body (above -500 HU), this far from its outline."""
NOISE_DOMINATED = 1.5
"""Kernel matching uses the voxels whose mean squared slice difference is at most this times the noise's."""


@dataclass(frozen=True)
class InputNoise:
    """The input's noise against this chain's full-dose noise at the settings' I0, both with ``kernel``."""

    kernel: Kernel
    measured_sd_hu: float
    predicted_sd_hu: float
    incident_flux: float

    @property
    def noise_free(self) -> bool:
        return self.measured_sd_hu < NOISE_FREE_BELOW * self.predicted_sd_hu

    @property
    def fitted_incident_flux(self) -> float:
        """I0 at which this chain's full-dose noise equals the input's (variance ~ 1/I0)."""
        if self.measured_sd_hu <= 0:
            raise InputError("no noise measured in the input (identical slices?); choose a region of "
                             "uniform tissue across several slices")
        return self.incident_flux * (self.predicted_sd_hu / self.measured_sd_hu) ** 2

    def mismatch(self) -> Optional[str]:
        """A sentence when the input's noise is far from what I0 and the kernel predict, else None."""
        ratio = self.measured_sd_hu / self.predicted_sd_hu
        if self.noise_free or 1 / FAR_FROM_PREDICTED <= ratio <= FAR_FROM_PREDICTED:
            return None
        return (f"the input's noise (SD {self.measured_sd_hu:.1f} HU in the body) is {ratio:.2g} x what I0 = "
                f"{self.incident_flux:.3g} with the {self.kernel.describe()} kernel predicts "
                f"({self.predicted_sd_hu:.1f} HU); I0 = {self.fitted_incident_flux:.3g} would fit "
                "(--incident-flux auto fits it; or --calibrate-roi on uniform tissue)")


def sample_slices(n_slices: int, count: int = SAMPLE_SLICES) -> np.ndarray:
    """Up to ``count`` slice indices evenly spaced through the volume."""
    return np.unique(np.linspace(0, n_slices - 1, min(count, n_slices)).round().astype(int))


def body_interior(hu: np.ndarray, spacing_mm) -> np.ndarray:
    """The body (above -500 HU) less a square of :data:`BODY_MARGIN_MM` around its outline, slice by slice."""
    margin = max(1, round(BODY_MARGIN_MM / max(spacing_mm[0], spacing_mm[1])))
    share = ndimage.uniform_filter((hu > -500).astype(np.float32), (1, 2 * margin + 1, 2 * margin + 1))
    return share > 0.999


class NoiseSample:
    """The input's slice differences and this chain's full-dose noise on a sample of slices (HU), at the settings'
    I0 (:attr:`.settings.SimulationSettings.trial_incident_flux` when it is to be fitted)."""

    def __init__(self, volume: Volume, settings: SimulationSettings, seed: int = 0,
                 slices: Optional[np.ndarray] = None, region: Optional[np.ndarray] = None):
        """``slices``: the sample (default :func:`sample_slices`); ``region`` ``[sample, y, x]``: where the
        input's noise is measured (default :func:`body_interior`)."""
        self.slices = sample_slices(volume.array.shape[0]) if slices is None else np.asarray(slices)
        if self.slices.size == 0:
            raise InputError("the region for measuring the input's noise has no slices")
        sample = Volume(np.ascontiguousarray(volume.array[self.slices]), volume.spacing)
        self.spacing, self.settings = volume.spacing, settings
        self.region = body_interior(sample.array, volume.spacing) if region is None else region
        if not self.region.any():
            raise InputError("the region for measuring the input's noise is empty (no body above -500 HU?)")
        self.differences = slice_differences(volume.array, self.slices)
        self.projector = make_projector(sample, settings)
        line_integrals = self.projector.forward_project(hu_to_mu(sample.array, settings.mu_water_per_mm))
        self.line_integral_noise = line_integral_noise(line_integrals, settings.trial_incident_flux,
                                                       np.random.default_rng([int(seed), 7]),
                                                       settings.electronic_noise_sd, settings.low_signal)
        self.hu_per_mu = np.float32(1000.0 / settings.mu_water_per_mm)
        self._noise: dict = {}

    def chain_noise_hu(self, kernel: FilterSpec) -> np.ndarray:
        """The chain's full-dose noise reconstructed with ``kernel`` (HU), computed once per kernel."""
        kernel = as_kernel(kernel)
        if kernel not in self._noise:
            self._noise[kernel] = self.projector.reconstruct_fbp(self.line_integral_noise, kernel) * self.hu_per_mu
        return self._noise[kernel]

    def noise_scale(self, kernel: FilterSpec) -> tuple[float, np.ndarray, np.ndarray]:
        """(kappa over the region, chain noise, its local variance): the input's noise variance over the chain's."""
        noise = self.chain_noise_hu(kernel)
        mean, variance = local_mean_variance(noise, self.spacing)
        noise = noise - mean
        scale = robust_noise_ratio(np.square(self.differences[self.region]), np.maximum(variance[self.region], 1e-12),
                                   np.square(noise[self.region]))
        return float(scale), noise, variance

    def fitted_kernel(self) -> Kernel:
        """The kernel whose noise spectrum is the input's (ram-lak for a noise-free input)."""
        scale, noise, variance = self.noise_scale(Kernel())
        if scale < NOISE_FREE_BELOW ** 2:
            return Kernel()
        kappa = noise_scale_map(self.differences, variance, self.region, self.spacing)
        dominated = self.region & (smooth_map(np.square(self.differences), self.spacing)
                                   <= NOISE_DOMINATED * kappa * variance)
        weights = ndimage.gaussian_filter(dominated.astype(np.float32), (0, 2, 2))
        frequencies, input_nps = radial_noise_power_spectrum(self.differences, self.spacing, weights)
        _, ramp_nps = radial_noise_power_spectrum(self.chain_noise_hu(Kernel()), self.spacing, weights)
        return fit_kernel(frequencies, input_nps, ramp_nps, 0.5 / max(self.spacing[:2]))

    def assess(self, kernel: FilterSpec) -> InputNoise:
        """The input's noise level against the chain's with ``kernel`` at the settings' I0."""
        scale, noise, _ = self.noise_scale(kernel)
        predicted = float(np.mean(np.square(noise[self.region])))
        return InputNoise(as_kernel(kernel), float(np.sqrt(scale * predicted)), float(np.sqrt(predicted)),
                          self.settings.trial_incident_flux)


def calibrated_noise(volume: Volume, roi: tuple[slice, slice, slice], settings: SimulationSettings,
                     seed: int = 0) -> InputNoise:
    """The input's noise in a uniform ROI ``[z, y, x]`` against the chain's (kernel fitted on the body for auto)."""
    kernel = NoiseSample(volume, settings, seed).fitted_kernel() if settings.kernel == KERNEL_AUTO else settings.kernel
    slices = np.arange(volume.array.shape[0])[roi[0]]
    region = np.zeros((slices.size,) + volume.array.shape[1:], bool)
    region[(slice(None),) + tuple(roi[1:])] = True
    return NoiseSample(volume, settings, seed, slices, region).assess(kernel)
