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
"""Counts below this (photon starvation, or <= 0 after electronic noise) are raised to it
before taking the log, so line integrals stay finite: l <= ln(I0 / 0.5)."""
LOW_SIGNAL_OFFSETS = {"corrected": 0.5, "none": 0.0}
"""c in l = ln(I0 / (n + c)) for each choice of :data:`.contract.LOW_SIGNAL_CORRECTIONS`.

For counts of mean m and variance V, E[ln(n + c)] = ln m + (c - V/(2m))/m + O(1/m^2) (delta
method), so c = 1/2 removes the bias of the log for Poisson counts (V = m): the low-signal
correction of clinical scanners, whose mean stays within 0.03 of ln m down to m = 2. c = 0 is
the raw log of an uncorrected detector, biased by +1/(2m) in l (+12 to +45 HU next to bone at
5-10 % dose)."""
EXACT_BELOW_COUNTS = 50.0
"""Rays with fewer expected counts are drawn as Poisson counts; the others from the Gaussian
with the log's mean and variance to order 1/m (their third moment matters only below this)."""
ROWS_PER_NOISE_BLOCK = 16


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


def check_low_signal(low_signal: str) -> float:
    """The offset c of the log for a low-signal choice, or a clear error."""
    if low_signal not in LOW_SIGNAL_OFFSETS:
        raise InputError(f"low-signal correction must be one of {', '.join(LOW_SIGNAL_OFFSETS)}, got {low_signal!r}")
    return LOW_SIGNAL_OFFSETS[low_signal]


def line_integrals_from_counts(counts: np.ndarray, incident_flux, low_signal: str = "corrected") -> np.ndarray:
    """l = ln(I0 / (n + c)), c from :data:`LOW_SIGNAL_OFFSETS`, n + c floored at :data:`COUNT_FLOOR` (finite)."""
    flux = check_incident_flux(incident_flux)
    offset = check_low_signal(low_signal)
    return np.log(flux / np.maximum(np.asarray(counts) + offset, COUNT_FLOOR)).astype(np.float32)


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


def line_integral_noise(line_integrals: np.ndarray, incident_flux: float, rng: np.random.Generator,
                        electronic_noise_sd: float = 0.0, low_signal: str = "corrected") -> np.ndarray:
    """e = l - p: the noise of one acquisition at flux I0 of the noiseless line integrals p ``[view, row, column]``.

    Rays with m = I0 e^-p < :data:`EXACT_BELOW_COUNTS` expected counts are drawn exactly:
    n ~ Poisson(m) + N(0, sigma_e^2), l = ln(I0 / (n + c)) (:func:`line_integrals_from_counts`),
    so photon starvation and the chosen low-signal log act as in a real acquisition. The others
    are Gaussian with the log's moments to order 1/m (delta method, V = m + sigma_e^2):
    E[e] = (V/(2m) - c)/m, var(e) = V/m^2 (1 + (3/2 - 2c)/m). Float32, drawn row block by row block.
    """
    offset = check_low_signal(low_signal)
    flux = float(check_incident_flux(incident_flux))
    p = np.asarray(line_integrals, dtype=np.float32)
    noise = np.empty(p.shape, np.float32)
    for start in range(0, p.shape[1], ROWS_PER_NOISE_BLOCK):
        block = p[:, start:start + ROWS_PER_NOISE_BLOCK]
        m = np.float32(flux) * np.exp(-block)
        variance = m + np.float32(electronic_noise_sd ** 2)
        out = rng.standard_normal(block.shape, dtype=np.float32)
        out *= np.sqrt(variance * (1 + (1.5 - 2 * offset) / m)) / m
        out += (variance / (2 * m) - offset) / m
        exact = m < EXACT_BELOW_COUNTS
        if exact.any():
            counts = rng.poisson(m[exact]).astype(np.float64)
            if electronic_noise_sd > 0:
                counts += rng.normal(0.0, electronic_noise_sd, counts.shape)
            out[exact] = line_integrals_from_counts(counts, flux, low_signal) - block[exact]
        noise[:, start:start + ROWS_PER_NOISE_BLOCK] = out
    return noise
