"""Ramp filters for filtered backprojection (Kak & Slaney 1988, ch. 3, eq. 61).

The discrete ramp is built in the spatial domain, h[0] = 1/(4 tau^2),
h[n odd] = -1/(n pi tau)^2, h[n even] = 0 (tau = detector sampling in mm), which
avoids the DC offset of sampling |f| directly, and is apodised by a window.
"""
from __future__ import annotations

import numpy as np

from ..volume import InputError

FILTER_NAMES = ("ram-lak", "shepp-logan", "cosine", "hann")


def ramp_filter_response(n_samples: int, sample_spacing_mm: float, filter_name: str = "ram-lak") -> np.ndarray:
    """Frequency response (for ``np.fft.rfft`` of length ``2 * next_pow2(n_samples)``), in 1/mm."""
    if filter_name not in FILTER_NAMES:
        raise InputError(f"unknown FBP filter {filter_name!r}; choose one of {', '.join(FILTER_NAMES)}")
    n_fft = 2 ** int(np.ceil(np.log2(2 * n_samples)))
    n = np.concatenate([np.arange(0, n_fft // 2 + 1), np.arange(-(n_fft // 2) + 1, 0)])
    h = np.zeros(n_fft)
    h[0] = 0.25 / sample_spacing_mm ** 2
    odd = n % 2 == 1
    h[odd] = -1.0 / (np.pi * n[odd] * sample_spacing_mm) ** 2
    response = sample_spacing_mm * np.real(np.fft.rfft(h))
    f = np.linspace(0.0, 1.0, response.size)  # fraction of the Nyquist frequency
    if filter_name == "shepp-logan":
        response *= np.sinc(f / 2.0)
    elif filter_name == "cosine":
        response *= np.cos(np.pi * f / 2.0)
    elif filter_name == "hann":
        response *= 0.5 * (1.0 + np.cos(np.pi * f))
    return response.astype(np.float32)


def filter_projections(projections: np.ndarray, sample_spacing_mm: float, filter_name: str = "ram-lak",
                       axis: int = -1) -> np.ndarray:
    """Convolve projections with the ramp filter along ``axis`` (zero-padded FFT)."""
    projections = np.asarray(projections, dtype=np.float32)
    n = projections.shape[axis]
    response = ramp_filter_response(n, sample_spacing_mm, filter_name)
    n_fft = 2 * (response.size - 1)
    shape = [1] * projections.ndim
    shape[axis] = response.size
    spectrum = np.fft.rfft(projections, n=n_fft, axis=axis) * response.reshape(shape)
    return np.take(np.fft.irfft(spectrum, n=n_fft, axis=axis), np.arange(n), axis=axis).astype(np.float32)
