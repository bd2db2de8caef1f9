"""CT noise for synthetic images through the LowDoseRobustness simulator (one implementation only).

Tsanda et al. forward-project the synthetic volume, draw Poisson counts and reconstruct.
:func:`LowDoseRobustnessLib.simulation.simulate.simulate_low_dose` adds to the reprojected line
integrals p the noise a dose fraction d adds to a scan at flux I0, variance
(1/d - 1) / (I0 e^-p) (linearised Poisson, Tsanda et al. 2024 eqs. 1-4). A synthetic image
has no noise yet, so d = 1/2 gives exactly the full Poisson variance 1 / (I0 e^-p) of a
scan at the settings' incident flux I0.
"""
from __future__ import annotations

from typing import Optional

from LowDoseRobustnessLib.projection import Projector
from LowDoseRobustnessLib.simulation.simulate import SimulationSettings, simulate_low_dose
from LowDoseRobustnessLib.volume import Volume

NOISE_FREE_DOSE_FRACTION = 0.5
"""The dose fraction at which the simulator's added variance equals the whole Poisson variance at I0."""
FAST_SIMULATION = SimulationSettings(geometry="fast")


def add_ct_noise(image: Volume, settings: SimulationSettings = FAST_SIMULATION, seed: int = 0,
                 projector: Optional[Projector] = None) -> Volume:
    """Reprojected, noisy at the settings' incident flux I0, reconstructed: the synthetic image as a CT scan (HU)."""
    return simulate_low_dose(image, NOISE_FREE_DOSE_FRACTION, settings, seed, projector=projector)
