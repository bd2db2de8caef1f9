"""Kernel matching: the reconstruction kernel whose noise has the input's measured noise power spectrum.

FBP noise has the NPS of the band-limited ramp times the squared window, NPS_W(f) = W(f)^2 NPS_1(f),
whatever the dose (which only scales it). With NPS_in measured on the input's slice differences and
NPS_1 on this chain's ramp-filtered noise in the same region, log(NPS_in / NPS_1) = log c - A x^2 - B x^4
(x = f / f_Nyquist of the grid) is fitted by least squares weighted by each ring's share of the
input's noise variance, over x in :data:`FIT_RANGE`. The window is W = exp(-A/2 x^2 - B/2 x^4),
W(0) = 1: a Gaussian blur of s mm is A = 2 (pi s f_Nyquist)^2, B = 0; a sharper kernel than the ramp
has A < 0. The constant c (the level) is the incident flux's business, not the kernel's.
"""
from __future__ import annotations

import numpy as np

from LowDoseRobustnessLib.reconstruction.filters import Kernel

FIT_RANGE = (0.05, 0.8)
"""Fraction of the grid's Nyquist frequency over which the spectra are compared (the band edge is left out)."""
MAX_WINDOW = 4.0
"""A fitted window above this anywhere in the band, or rising above the fitted range towards the band's
top (an extrapolation of the x^4 term), is not trusted: the fit falls back to A alone (B = 0)."""
RAMP_TOLERANCE = 0.08
"""A fitted W^2 within this of 1 over :data:`FIT_RANGE` is the ramp itself: fits between independent noise
samples of 32 body slices with the same kernel scatter by about 3 % (1 SD) at mid-band, as body noise is
dominated by a few strong streaks (the lateral rays), whose spectra do not average out."""


def fit_kernel(frequencies_per_mm: np.ndarray, input_nps: np.ndarray, ramp_nps: np.ndarray,
               grid_nyquist_per_mm: float) -> Kernel:
    """The :class:`Kernel` (smooth roll-off) turning the ramp chain's NPS into the input's."""
    x = np.asarray(frequencies_per_mm) / grid_nyquist_per_mm
    usable = (x >= FIT_RANGE[0]) & (x <= FIT_RANGE[1]) & (input_nps > 0) & (ramp_nps > 0)
    x, ratio = x[usable], np.log(input_nps[usable] / ramp_nps[usable])
    weight = np.sqrt(input_nps[usable] * frequencies_per_mm[usable])
    for powers in ((2, 4), (2,)):
        design = np.stack([np.ones_like(x)] + [-x ** k for k in powers], axis=1)
        solution, *_ = np.linalg.lstsq(design * weight[:, None], ratio * weight, rcond=None)
        kernel = Kernel(roll_off=(solution[1] / 2, solution[2] / 2 if len(powers) == 2 else 0.0))
        window = kernel.window(np.linspace(0, grid_nyquist_per_mm, 65), grid_nyquist_per_mm)
        top = np.linspace(FIT_RANGE[1], 1.0, 9)
        roll_off_at_top = -kernel.roll_off[0] * top ** 2 - kernel.roll_off[1] * top ** 4
        if window.max() <= MAX_WINDOW and np.all(np.diff(roll_off_at_top) <= 1e-9):
            break
    if np.all(np.abs(window[:53] ** 2 - 1) <= RAMP_TOLERANCE):  # x up to 0.8
        return Kernel()
    return kernel
