"""CT noise for synthetic images through the LowDoseRobustness simulator (one implementation only).

Tsanda et al. forward-project the synthetic volume, draw Poisson counts and reconstruct. The
simulator's reconstructed-CT mode does exactly that for an input it is told is noise-free
(``input_noise="none"``): the reprojection reconstructed, plus the FBP of the line-integral noise
of one acquisition at the settings' incident flux I0 (Poisson counts where they are few, the
log's low-signal correction; :func:`LowDoseRobustnessLib.simulation.dose.line_integral_noise`),
reconstructed with the settings' kernel. The image then holds the noise of a scan at I0, nothing less.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

from LowDoseRobustnessLib.contract import DEFAULT_INCIDENT_FLUX
from LowDoseRobustnessLib.projection import Projector
from LowDoseRobustnessLib.simulation.simulate import SimulationSettings, simulate_low_dose
from LowDoseRobustnessLib.volume import Volume

FAST_SIMULATION = SimulationSettings(geometry="fast", incident_flux=DEFAULT_INCIDENT_FLUX)


def add_ct_noise(image: Volume, settings: SimulationSettings = FAST_SIMULATION, seed: int = 0,
                 projector: Optional[Projector] = None) -> Volume:
    """Reprojected, noisy at the settings' incident flux I0, reconstructed: the synthetic image as a CT scan (HU)."""
    return simulate_low_dose(image, 1.0, replace(settings, input_noise="none"), seed, projector=projector)
