"""A body-sized phantom scanned directly, the reference against which the simulator's noise is validated.

Direct simulation: Poisson counts of the noiseless line integrals at the dose's flux d I0 (eq. 2),
their log (with the chosen low-signal correction) and the same FBP as the simulator. Noise is
always a difference of reconstructions: noisy minus noiseless, so the discretisation of the
phantom's edges does not count as noise.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from image_quality import mean_frequency, noise_sd_ratio
from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu, mu_to_hu
from LowDoseRobustnessLib.simulation.dose import line_integrals_from_counts, poisson_counts
from LowDoseRobustnessLib.simulation.settings import SimulationSettings, make_projector
from LowDoseRobustnessLib.volume import Volume
from phantoms import body_ellipse

REGIONS = ("interior", "centre", "edge")


@dataclass
class BodyScan:
    """The phantom, its projector and noiseless reconstruction, and direct scans of it (cached per dose and seed)."""

    volume: Volume
    regions: dict
    settings: SimulationSettings
    projector: object
    line_integrals: np.ndarray
    noiseless: np.ndarray
    _scans: dict = field(default_factory=dict)

    @classmethod
    def build(cls, slices: int, geometry: str = "clinical", incident_flux: float = 1e5, bones: bool = False):
        volume, regions = body_ellipse(slices, bones=bones)
        settings = SimulationSettings(geometry=geometry, incident_flux=incident_flux)
        projector = make_projector(volume, settings)
        line_integrals = projector.forward_project(hu_to_mu(volume.array))
        return cls(volume, regions, settings, projector, line_integrals, mu_to_hu(projector.reconstruct_fbp(line_integrals)))

    def reconstruct(self, line_integrals: np.ndarray) -> np.ndarray:
        return mu_to_hu(self.projector.reconstruct_fbp(line_integrals))

    def direct(self, dose: float, seed: int, incident_flux: float | None = None,
               low_signal: str = "corrected") -> np.ndarray:
        """A direct scan (HU) at ``dose`` x I0: Poisson counts, log, FBP."""
        flux = dose * (incident_flux or self.settings.incident_flux)
        key = (flux, seed, low_signal)
        if key not in self._scans:
            counts = poisson_counts(self.line_integrals, flux, np.random.default_rng(seed))
            self._scans[key] = self.reconstruct(line_integrals_from_counts(counts, flux, low_signal))
        return self._scans[key]

    def direct_noise(self, dose: float, seed: int = 100) -> np.ndarray:
        return self.direct(dose, seed) - self.noiseless

    def chain(self, hu: np.ndarray) -> np.ndarray:
        """Reprojected and reconstructed (the simulator's signal path without noise), in HU."""
        return self.reconstruct(self.projector.forward_project(hu_to_mu(hu)))

    def sd_ratios(self, noise: np.ndarray, reference_noise: np.ndarray) -> dict[str, tuple[float, float]]:
        """Region -> (SD ratio, its standard error) for :data:`REGIONS`."""
        return {name: noise_sd_ratio(noise, reference_noise, self.regions[name]) for name in REGIONS}

    def frequency_ratio(self, noise: np.ndarray, reference_noise: np.ndarray) -> float:
        """Mean frequency of the noise over that of the reference, inside the body interior."""
        region = self.regions["interior"]
        return (mean_frequency(noise, self.volume.spacing, region)
                / mean_frequency(reference_noise, self.volume.spacing, region))
