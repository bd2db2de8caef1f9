"""The photon-count noise model: Beer's law, Poisson counts, dose reduction.

Notation of the paper (Tsanda et al. 2024, eqs. 1-4): a detector pixel behind line
integral ``l`` receives on average ``n = I0 exp(-l)`` photons (eq. 1, I0 = incident
flux per detector pixel and view from the air scan); counts are Poisson (eq. 2).
Reducing the tube current from ``a`` to ``b`` is the dose fraction ``d = b/a`` (eq. 4).
"""
from __future__ import annotations

import numpy as np

from LowDoseRobustnessLib.contract import THINNING_METHODS
from LowDoseRobustnessLib.errors import InputError

COUNT_FLOOR = 0.5
"""Counts below this (photon starvation, or <= 0 after electronic noise) are raised to
it before taking the log, so line integrals stay finite: l <= ln(I0 / 0.5)."""



def check_dose_fraction(dose_fraction: float) -> float:
    """Dose fraction b/a must lie in (0, 1]."""
    d = float(dose_fraction)
    if not 0.0 < d <= 1.0:
        raise InputError(f"dose fraction must be in (0, 1] (e.g. 0.2 for 20 % dose), got {dose_fraction}")
    return d


def check_incident_flux(incident_flux) -> np.ndarray:
    """Incident flux I0 (photons per detector pixel per view) must be positive and finite."""
    flux = np.asarray(incident_flux, dtype=np.float64)
    if not np.all(np.isfinite(flux)) or np.any(flux <= 0):
        raise InputError("incident flux I0 must be positive photons per detector pixel and view")
    return flux


def mean_counts(line_integrals: np.ndarray, incident_flux) -> np.ndarray:
    """Expected counts n = I0 exp(-l) (Beer's law, eq. 1), in the precision of ``line_integrals``."""
    line_integrals = np.asarray(line_integrals)
    dtype = line_integrals.dtype if line_integrals.dtype == np.float32 else np.float64
    return check_incident_flux(incident_flux).astype(dtype) * np.exp(-line_integrals.astype(dtype, copy=False))


def line_integrals_from_counts(counts: np.ndarray, incident_flux) -> np.ndarray:
    """l = ln(I0 / n), with counts floored at :data:`COUNT_FLOOR` (no NaN or inf)."""
    flux = check_incident_flux(incident_flux)
    return np.log(flux / np.maximum(counts, COUNT_FLOOR)).astype(np.float32)


def poisson_counts(line_integrals: np.ndarray, incident_flux, rng: np.random.Generator,
                   electronic_noise_sd: float = 0.0) -> np.ndarray:
    """One acquisition: n ~ Poisson(I0 exp(-l)) (eq. 2) plus N(0, sigma_e^2) electronic noise."""
    counts = rng.poisson(mean_counts(line_integrals, incident_flux)).astype(np.float64)
    if electronic_noise_sd > 0:
        counts += rng.normal(0.0, electronic_noise_sd, counts.shape)
    return counts


def thin_counts(counts: np.ndarray, dose_fraction: float, rng: np.random.Generator,
                method: str = "zabic", electronic_noise_sd: float = 0.0) -> np.ndarray:
    """Counts of a dose-``d`` acquisition from the counts ``n_a`` of a full-dose one.

    ``zabic``: n_b = (1 - d) Poisson(d / (1 - d) n_a) (Zabic et al. 2013, eq. 3; the paper's eq. 3);
    mean d n_a, and with n_a ~ Poisson(m) the variance is d m: a Poisson-like dose-d count.
    ``binomial``: n_b ~ Binomial(n_a, d), exact for integer Poisson counts (each photon kept
    with probability d). Electronic noise, if the detector has it (sigma_e in counts), is
    scaled down by thinning; N(0, sigma_e^2 (1 - d^2)) restores its full level.
    """
    d = check_dose_fraction(dose_fraction)
    if method not in THINNING_METHODS:
        raise InputError(f"thinning method must be one of {THINNING_METHODS}, got {method!r}")
    counts = np.maximum(np.asarray(counts, dtype=np.float64), 0.0)
    if d == 1.0:
        return counts.copy()
    if method == "zabic":
        thinned = (1.0 - d) * rng.poisson(d / (1.0 - d) * counts)
    else:
        thinned = rng.binomial(np.rint(counts).astype(np.int64), d).astype(np.float64)
    if electronic_noise_sd > 0:
        thinned += rng.normal(0.0, electronic_noise_sd * np.sqrt(1.0 - d * d), thinned.shape)
    return thinned


def full_dose_variance(line_integrals: np.ndarray, incident_flux) -> np.ndarray:
    """var(l) = 1 / (I0 e^-l) of a quantum-limited full-dose line integral (linearised eq. 2), float32."""
    flux = check_incident_flux(incident_flux).astype(np.float32)
    return (np.exp(np.asarray(line_integrals, dtype=np.float32)) / flux).astype(np.float32, copy=False)


def additional_line_integral_sd(line_integrals: np.ndarray | None, incident_flux, dose_fraction: float,
                                electronic_noise_sd: float = 0.0, retained_fraction: float = 1.0,
                                variance: np.ndarray | None = None) -> np.ndarray:
    """SD of the noise that turns full-dose line integrals into dose-``d`` ones.

    Linearising l = ln(I0/n): var(l) = var(n) / nbar^2. At dose d, nbar = d I0 exp(-l) and
    var(n) = nbar + sigma_e^2, so var_d(l) = v/d + sigma_e^2 v^2/d^2 with v = 1/(I0 e^-l). Of the
    full-dose part the data still hold a fraction ``retained_fraction`` (1 for measured data),
    so the additional variance is (1/d - r) v + sigma_e^2 (1/d^2 - r) v^2. Pass ``variance``
    (:func:`full_dose_variance`) to reuse v across dose levels.
    """
    d = check_dose_fraction(dose_fraction)
    v = full_dose_variance(line_integrals, incident_flux) if variance is None else variance
    extra = np.float32(1.0 / d - retained_fraction) * v
    if electronic_noise_sd > 0:
        extra += np.float32(electronic_noise_sd ** 2 * (1.0 / d ** 2 - retained_fraction)) * v * v
    return np.sqrt(np.maximum(extra, 0.0, out=extra), out=extra)
