"""Hounsfield units <-> linear attenuation coefficient, the one place for this conversion.

HU = 1000 (mu - mu_water) / mu_water, so mu = mu_water (1 + HU/1000).
mu_water = 0.0192 1/mm is water's attenuation at an effective energy of about
70 keV (NIST XCOM: 0.1929 cm^2/g x 0.998 g/cm^3 at 70 keV), typical of a 120 kVp
abdominal protocol. Values below -1000 HU (physically impossible, e.g. padding
or reconstruction undershoot) are clipped to air, mu = 0.
"""
from __future__ import annotations

import numpy as np

from LowDoseRobustnessLib.errors import InputError

MU_WATER_PER_MM = 0.0192
EFFECTIVE_ENERGY_KEV = 70.0
AIR_HU = -1000.0


def hu_to_mu(hu: np.ndarray, mu_water_per_mm: float = MU_WATER_PER_MM) -> np.ndarray:
    """Linear attenuation in 1/mm from CT numbers in HU; below -1000 HU is clipped to 0."""
    hu = np.asarray(hu, dtype=np.float32)
    return (mu_water_per_mm * (1.0 + np.maximum(hu, AIR_HU) / 1000.0)).astype(np.float32)


def mu_to_hu(mu: np.ndarray, mu_water_per_mm: float = MU_WATER_PER_MM) -> np.ndarray:
    """CT numbers in HU from linear attenuation in 1/mm (no clipping: noise may go below air)."""
    mu = np.asarray(mu, dtype=np.float32)
    return (1000.0 * (mu / mu_water_per_mm - 1.0)).astype(np.float32)


def check_ct_numbers(hu: np.ndarray) -> None:
    """Refuse arrays that are not CT in HU (e.g. MR intensities, raw stored values, mu in 1/mm).

    A CT in HU has air near -1000 and soft tissue near 0..100; most voxels lie in
    [-1100, 3100]. Raw DICOM stored values (0..4095 without rescale), MR and
    attenuation maps all fail at least one of these checks.
    """
    values = np.asarray(hu)
    if values.size == 0:
        raise InputError("the volume is empty")
    if not np.all(np.isfinite(values)):
        raise InputError("the volume contains NaN or infinite values")
    p01, p50, p99 = np.percentile(values[:: max(1, values.size // 2_000_000)], [1, 50, 99])
    if p99 - p01 < 1.0:
        raise InputError(
            f"values span only {p01:.3g}..{p99:.3g}: this looks like attenuation in 1/mm or a normalised image, "
            "not CT numbers in HU")
    if p01 > -500:
        raise InputError(
            f"no air found (1st percentile {p01:.0f}): a CT in Hounsfield units has air near -1000 HU. "
            "Is this an MR image or CT stored without rescale slope/intercept?")
    if p01 < -1200 or p99 > 4000 or p50 > 2000:
        raise InputError(
            f"values outside the CT range (1st/50th/99th percentiles {p01:.0f}/{p50:.0f}/{p99:.0f}); "
            "expected Hounsfield units with air near -1000 and soft tissue near 0")
