"""Local noise accounting of the reconstructed-CT mode: every location gets the noise of a dose-d scan.

The input x = s + n already holds noise n. The chain's signal path (reprojection and FBP, linear)
keeps L n of it: a share that depends on the position (about 0.6 of the variance at the centre of
a body, 0.4 near its edge, clinical geometry) and on the frequency (reprojection blurs: high
frequencies are kept least). The kept noise is measured in the signal image itself, per radial
frequency band b (:func:`.noise_maps.split_bands`): its slice differences are L applied to the
input's, and their variance against this chain's own full-dose noise N_1 in the same band gives
V_r,b = kappa_b V_1,b, robust to anatomy that changes between slices
(:func:`.noise_maps.noise_scale_map`). The noise of a dose-d acquisition, N_d = FBP of the
line-integral noise at d I0, of local mean m_d (the low-signal bias) and band variances V_d,b, is
added as m_d + sum_b g_b (N_d - m_d)_b with g_b^2 = 1 - V_r,b / V_d,b: in every band and at every
location the total variance is that of a dose-d scan, so level and texture both match. A
noise-free input gets all of N_d (g = 1), a full-dose scan of this chain only what its kept noise
lacks, mostly at high frequencies. Where V_r,b > V_d,b the input is noisier than a dose-d scan:
nothing is added there, with a warning.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from LowDoseRobustnessLib.errors import SimulationWarning
from LowDoseRobustnessLib.simulation.noise_maps import (BAND_SIGMAS_MM, CLIP_SDS, CLIPPED_GAUSSIAN_VARIANCE,
                                                        SCALE_BLOCK_MM, local_mean_variance, noise_scale_map,
                                                        slice_differences, smooth_map, split_bands)

NOISIER_SHARE_WARNING = 0.02
NOISIER_MARGIN = 0.2
"""A warning when the input's kept variance exceeds the target's by more than this (20 %, beyond the maps'
sampling error) in a band, in more than :data:`NOISIER_SHARE_WARNING` of the body."""


def band_variances(noise: np.ndarray, spacing_mm) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """(local mean, bands of the noise less its mean, their local variances) of a pure-noise image."""
    mean = smooth_map(noise, spacing_mm)
    bands = split_bands(noise - mean, spacing_mm)
    return mean, bands, [smooth_map(np.square(band), spacing_mm, sigma) for band, sigma in zip(bands, BAND_SIGMAS_MM)]


def retained_band_variances(signal: np.ndarray, reference: np.ndarray, region: np.ndarray,
                            spacing_mm) -> list[np.ndarray]:
    """V_r,b: the input noise the signal image kept, per band, as kappa_b V_1,b (V_1,b: of the chain's ``reference``
    noise at 100 % dose), followed by V_1 (all bands).

    The slice differences are first clipped at 3 local SDs of their noise: anatomy that changes
    between slices would otherwise ring into every band far from where it is (the bands' edges are
    sharp in frequency); the clipped tails of the noise itself are restored by 1/0.9733.
    """
    reference_variance = local_mean_variance(reference, spacing_mm)[1]
    differences = slice_differences(signal)
    limit = CLIP_SDS * np.sqrt(noise_scale_map(differences, reference_variance, region, spacing_mm)
                               * reference_variance)
    kept = split_bands(np.clip(differences, -limit, limit), spacing_mm)
    blocks_mm = [max(SCALE_BLOCK_MM, sigma) for sigma in BAND_SIGMAS_MM]
    return [noise_scale_map(band, variance, region, spacing_mm, block_mm=block, sigma_mm=block) * variance
            / np.float32(CLIPPED_GAUSSIAN_VARIANCE) for band, variance, block in
            zip(kept, band_variances(reference, spacing_mm)[2], blocks_mm)] + [reference_variance]


@dataclass
class Shortfall:
    """Where the input is noisier than the target (tallied over slabs; one warning per dose)."""

    noisier: int = 0
    body: int = 0
    excess: list = field(default_factory=list)

    def warn(self, dose: float) -> None:
        if self.noisier > NOISIER_SHARE_WARNING * max(1, self.body):
            warnings.warn(SimulationWarning(
                f"the input is noisier than a {dose:.0%}-dose scan in {self.noisier / self.body:.0%} of the body "
                f"(median {np.sqrt(np.median(self.excess)):.2f} x the SD there, in some frequency band), which keeps "
                "the input's noise: a lower I0 (--incident-flux auto or --calibrate-roi) or a smoother --kernel would "
                "match it, or, if the geometry has too few views for the grid, more views"), stacklevel=3)


def add_dose_noise(signal: np.ndarray, noise: np.ndarray, body: np.ndarray, *retained: np.ndarray, spacing_mm,
                   shortfall: Shortfall | None = None) -> np.ndarray:
    """signal + m_d + sum_b g_b (N_d - m_d)_b (see the module's docstring); no ``retained``: a noise-free input,
    which gets all of N_d."""
    if not retained:
        return signal + noise
    mean, bands, variances = band_variances(noise, spacing_mm)
    image = signal + mean
    noisier = np.zeros(body.shape, bool)
    for band, variance, kept in zip(bands, variances, retained):
        gain_squared = 1.0 - kept / np.maximum(variance, np.float32(1e-30))
        short = body & (gain_squared < -NOISIER_MARGIN)
        noisier |= short
        if shortfall is not None:
            shortfall.excess.extend(1.0 - gain_squared[short][::97])
        image += np.sqrt(np.clip(gain_squared, 0.0, 1.0)) * band
    if shortfall is not None:
        shortfall.noisier += int(noisier.sum())
        shortfall.body += int(body.sum())
    return image


def per_ray_gain(projector, retained_variance: np.ndarray, full_dose_variance: np.ndarray, body: np.ndarray,
                 dose: float) -> np.ndarray:
    """Projection-domain gain for methods that need noisy projections (iterative reconstruction).

    The retained share r = V_r / V_1 (V_1: this chain's full-dose FBP noise variance) is averaged
    along each ray through the body; the ray's dose-d noise is scaled by sqrt(max(0, 1 - d r)).
    An approximation: a voxel's variance comes from all rays through it, each with its own average.
    """
    share = np.where(body, retained_variance / np.maximum(full_dose_variance, np.float32(1e-30)), 0.0)
    path = projector.forward_project(body.astype(np.float32))
    mean_share = projector.forward_project(share.astype(np.float32)) / np.maximum(path, np.float32(1e-6))
    return np.sqrt(np.clip(1.0 - dose * mean_share, 0.0, 1.0)).astype(np.float32)
