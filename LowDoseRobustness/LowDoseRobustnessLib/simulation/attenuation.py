"""Hounsfield units <-> linear attenuation coefficient, the one place for this conversion.

HU = 1000 (mu - mu_water) / mu_water, so mu = mu_water (1 + HU/1000).
mu_water = 0.0192 1/mm is water's attenuation at an effective energy of about
70 keV (NIST XCOM: 0.1929 cm^2/g x 0.998 g/cm^3 at 70 keV), typical of a 120 kVp
abdominal protocol. Values below -1000 HU (physically impossible, e.g. padding
or reconstruction undershoot) are clipped to air, mu = 0.
"""
from __future__ import annotations

import numpy as np

from LowDoseRobustnessLib.contract import AIR_HU

MU_WATER_PER_MM = 0.0192
EFFECTIVE_ENERGY_KEV = 70.0


def hu_to_mu(hu: np.ndarray, mu_water_per_mm: float = MU_WATER_PER_MM) -> np.ndarray:
    """Linear attenuation in 1/mm from CT numbers in HU; below -1000 HU is clipped to 0."""
    hu = np.asarray(hu, dtype=np.float32)
    return (mu_water_per_mm * (1.0 + np.maximum(hu, AIR_HU) / 1000.0)).astype(np.float32)


def mu_to_hu(mu: np.ndarray, mu_water_per_mm: float = MU_WATER_PER_MM) -> np.ndarray:
    """CT numbers in HU from linear attenuation in 1/mm (no clipping: noise may go below air)."""
    mu = np.asarray(mu, dtype=np.float32)
    return (1000.0 * (mu / mu_water_per_mm - 1.0)).astype(np.float32)
