"""Ramp filters for filtered backprojection (Kak & Slaney 1988, ch. 3, eq. 61).

The discrete ramp is built in the spatial domain, h[0] = 1/(4 tau^2),
h[n odd] = -1/(n pi tau)^2, h[n even] = 0 (tau = detector sampling in mm), which
avoids the DC offset of sampling |f| directly, and is apodised by a window
W(f) of the fraction f of the Nyquist frequency: ram-lak 1, shepp-logan sinc(f/2),
cosine cos(pi f/2), hann (1 + cos(pi f))/2.
"""
from __future__ import annotations

import numpy as np
import torch

from LowDoseRobustnessLib.contract import FBP_FILTERS
from LowDoseRobustnessLib.errors import InputError



def _fft_length(n_samples: int) -> int:
    """Zero-padded FFT length: at least twice the samples, a power of two (no circular wrap-around)."""
    return 2 ** int(np.ceil(np.log2(2 * n_samples)))


def apodization_window(n_samples: int, filter_name: str = "ram-lak") -> np.ndarray:
    """Window W(f) on the ``np.fft.rfft`` grid of length :func:`_fft_length` (1 everywhere for ram-lak)."""
    if filter_name not in FBP_FILTERS:
        raise InputError(f"unknown FBP filter {filter_name!r}; choose one of {', '.join(FBP_FILTERS)}")
    f = np.linspace(0.0, 1.0, _fft_length(n_samples) // 2 + 1)  # fraction of the Nyquist frequency
    windows = {"ram-lak": np.ones_like(f), "shepp-logan": np.sinc(f / 2.0),
               "cosine": np.cos(np.pi * f / 2.0), "hann": 0.5 * (1.0 + np.cos(np.pi * f))}
    return windows[filter_name]


def ramp_filter_response(n_samples: int, sample_spacing_mm: float, filter_name: str = "ram-lak") -> np.ndarray:
    """Frequency response (for ``np.fft.rfft`` of length ``2 * next_pow2(n_samples)``), in 1/mm."""
    window = apodization_window(n_samples, filter_name)
    n_fft = _fft_length(n_samples)
    n = np.concatenate([np.arange(0, n_fft // 2 + 1), np.arange(-(n_fft // 2) + 1, 0)])
    h = np.zeros(n_fft)
    h[0] = 0.25 / sample_spacing_mm ** 2
    odd = n % 2 == 1
    h[odd] = -1.0 / (np.pi * n[odd] * sample_spacing_mm) ** 2
    return (sample_spacing_mm * np.real(np.fft.rfft(h)) * window).astype(np.float32)


def _convolve(projections: np.ndarray, response: np.ndarray, axis: int) -> np.ndarray:
    """Multiply the zero-padded spectrum along ``axis`` by ``response`` (rfft grid) and crop back.

    Single-precision FFTs on all cores (torch.fft); numpy's are double precision and single-threaded.
    """
    projections = np.asarray(projections, dtype=np.float32)
    n = projections.shape[axis]
    n_fft = 2 * (response.size - 1)
    shape = [1] * projections.ndim
    shape[axis] = response.size
    data = torch.from_numpy(np.ascontiguousarray(projections))
    spectrum = torch.fft.rfft(data, n=n_fft, dim=axis) * torch.from_numpy(response.reshape(shape).astype(np.float32))
    return torch.fft.irfft(spectrum, n=n_fft, dim=axis).narrow(axis, 0, n).numpy()


def filter_projections(projections: np.ndarray, sample_spacing_mm: float, filter_name: str = "ram-lak",
                       axis: int = -1) -> np.ndarray:
    """Convolve projections with the ramp filter along ``axis`` (zero-padded FFT)."""
    response = ramp_filter_response(np.shape(projections)[axis], sample_spacing_mm, filter_name)
    return _convolve(projections, response, axis)


def apodize_projections(projections: np.ndarray, filter_name: str, axis: int = -1) -> np.ndarray:
    """Apply only the window W(f) along ``axis``: turns ramp-filtered projections into ``filter_name``-filtered ones."""
    return _convolve(projections, apodization_window(np.shape(projections)[axis], filter_name), axis)
