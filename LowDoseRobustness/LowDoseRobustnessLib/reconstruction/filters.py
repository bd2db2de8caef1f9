"""Reconstruction kernels of filtered backprojection, defined in absolute frequency (1/mm).

The FBP filter is the ramp |f| (Kak & Slaney 1988, ch. 3, eq. 61) times a window W(f). The
ramp is built in the spatial domain, h[0] = 1/(4 tau^2), h[n odd] = -1/(n pi tau)^2,
h[n even] = 0 (tau = detector sampling in mm), which avoids the DC offset of sampling |f|
directly, and is then band-limited to the cutoff f_c, by default the Nyquist frequency
1/(2 dx) of the reconstruction grid: frequencies the image cannot hold are not backprojected,
so they neither fold back as a fixed moire pattern nor as aliased noise. The band edge is a
raised cosine over the top fifth of the band (:data:`BAND_EDGE`). Windows are
functions of x = f / f_c, the same in 1/mm for any detector: ram-lak 1, shepp-logan
sinc(x/2), cosine cos(pi x/2), hann (1 + cos(pi x))/2. A :class:`Kernel` multiplies named
windows and a smooth roll-off exp(-a x^2 - b x^4) (fitted to an input's noise power spectrum
by :mod:`..simulation.kernel_matching`); W(0) = 1 always, so CT numbers do not change.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np
import torch

from LowDoseRobustnessLib.contract import FBP_FILTERS
from LowDoseRobustnessLib.errors import InputError

WINDOWS = {"ram-lak": lambda x: np.ones_like(x), "shepp-logan": lambda x: np.sinc(x / 2.0),
           "cosine": lambda x: np.cos(np.pi * x / 2.0), "hann": lambda x: 0.5 * (1.0 + np.cos(np.pi * x))}
"""W(x) of each name in :data:`.contract.FBP_FILTERS`, x = f / f_c in [0, 1]."""
BAND_EDGE = 0.2
"""Width of the band edge, as a fraction of f_c: W falls as a raised cosine from x = 0.8 to 0.
A sharp cut at f_c rings at every edge of the image, by +-h/(pi^2 k) of the edge height h k
pixels away: a 3 HU SD pattern on noiseless water inside a body outline (1.4 HU with this edge)."""


@dataclass(frozen=True)
class Kernel:
    """A reconstruction kernel: W(f) = prod(named windows) exp(-a x^2 - b x^4), x = f / f_c, zero above f_c.

    ``cutoff_per_mm`` None puts f_c at the Nyquist frequency of the reconstruction grid. ``ram-lak`` is the
    window 1 and is dropped from ``windows``, so equal kernels compare equal (``as_kernel("ram-lak") == Kernel()``).
    """

    windows: tuple[str, ...] = ()
    roll_off: tuple[float, float] = (0.0, 0.0)
    cutoff_per_mm: float | None = None

    def __post_init__(self):
        unknown = [name for name in self.windows if name not in FBP_FILTERS]
        if unknown:
            raise InputError(f"unknown FBP filter {unknown[0]!r}; choose one of {', '.join(FBP_FILTERS)}")
        object.__setattr__(self, "windows", tuple(name for name in self.windows if name != "ram-lak"))
        if self.cutoff_per_mm is not None and not self.cutoff_per_mm > 0:
            raise InputError(f"the filter cutoff must be a positive frequency in 1/mm, got {self.cutoff_per_mm}")

    def __mul__(self, other: "Kernel") -> "Kernel":
        """Both kernels applied one after the other (windows multiply; the lower cutoff wins)."""
        cutoffs = [c for c in (self.cutoff_per_mm, other.cutoff_per_mm) if c is not None]
        return Kernel(self.windows + other.windows,
                      (self.roll_off[0] + other.roll_off[0], self.roll_off[1] + other.roll_off[1]),
                      min(cutoffs) if cutoffs else None)

    def window(self, frequencies_per_mm: np.ndarray, grid_nyquist_per_mm: float) -> np.ndarray:
        """W(f) at the given frequencies (1/mm), zero above the cutoff."""
        cutoff = grid_nyquist_per_mm if self.cutoff_per_mm is None else min(self.cutoff_per_mm, grid_nyquist_per_mm)
        x = np.abs(np.asarray(frequencies_per_mm, dtype=np.float64)) / cutoff
        inside = np.minimum(x, 1.0)
        edge = np.clip((inside - (1.0 - BAND_EDGE)) / BAND_EDGE, 0.0, 1.0)
        response = 0.5 * (1.0 + np.cos(np.pi * edge)) * np.exp(-self.roll_off[0] * inside ** 2
                                                               - self.roll_off[1] * inside ** 4)
        for name in self.windows:
            response = response * WINDOWS[name](inside)
        return np.where(x <= 1.0, response, 0.0)

    def describe(self) -> str:
        parts = list(self.windows) or ["ram-lak"]
        if any(self.roll_off):
            parts.append("exp(-{:.3g} x^2 - {:.3g} x^4)".format(*self.roll_off))
        if self.cutoff_per_mm is not None:
            parts.append(f"cut off at {self.cutoff_per_mm:.3g}/mm")
        return " x ".join(parts)


FilterSpec = Union[str, Kernel]
"""A filter name of :data:`.contract.FBP_FILTERS` or a :class:`Kernel`."""


def as_kernel(filter_name: FilterSpec) -> Kernel:
    """The :class:`Kernel` of a filter name (or the kernel itself)."""
    if isinstance(filter_name, Kernel):
        return filter_name
    if filter_name not in FBP_FILTERS:
        raise InputError(f"unknown FBP filter {filter_name!r}; choose one of {', '.join(FBP_FILTERS)}")
    return Kernel((filter_name,))


def fft_length(n_samples: int) -> int:
    """Zero-padded FFT length: at least twice the samples, a power of two (no circular wrap-around)."""
    return 2 ** int(np.ceil(np.log2(2 * n_samples)))


def fft_frequencies(n_samples: int, sample_spacing_mm: float) -> np.ndarray:
    """Frequencies (1/mm) of the ``np.fft.rfft`` grid of length :func:`fft_length`."""
    return np.fft.rfftfreq(fft_length(n_samples), sample_spacing_mm)


def ramp_filter_response(n_samples: int, sample_spacing_mm: float, filter_name: FilterSpec = "ram-lak",
                         grid_nyquist_per_mm: float = np.inf) -> np.ndarray:
    """Ramp x window on the :func:`fft_frequencies` grid (float32), band-limited to the grid's Nyquist frequency."""
    n_fft = fft_length(n_samples)
    n = np.concatenate([np.arange(0, n_fft // 2 + 1), np.arange(-(n_fft // 2) + 1, 0)])
    h = np.zeros(n_fft)
    h[0] = 0.25 / sample_spacing_mm ** 2
    odd = n % 2 == 1
    h[odd] = -1.0 / (np.pi * n[odd] * sample_spacing_mm) ** 2
    nyquist = min(grid_nyquist_per_mm, 0.5 / sample_spacing_mm)
    window = as_kernel(filter_name).window(fft_frequencies(n_samples, sample_spacing_mm), nyquist)
    return (sample_spacing_mm * np.real(np.fft.rfft(h)) * window).astype(np.float32)


def window_response(n_samples: int, sample_spacing_mm: float, filter_name: FilterSpec,
                    grid_nyquist_per_mm: float = np.inf) -> np.ndarray:
    """Only the window W(f) (band limit included) on the :func:`fft_frequencies` grid: for ramp-filtered data."""
    nyquist = min(grid_nyquist_per_mm, 0.5 / sample_spacing_mm)
    return as_kernel(filter_name).window(fft_frequencies(n_samples, sample_spacing_mm), nyquist).astype(np.float32)


def convolve(projections: np.ndarray, response: np.ndarray, axis: int) -> np.ndarray:
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


def filter_projections(projections: np.ndarray, sample_spacing_mm: float, filter_name: FilterSpec = "ram-lak",
                       axis: int = -1, grid_nyquist_per_mm: float = np.inf) -> np.ndarray:
    """Convolve projections with the band-limited ramp x window along ``axis`` (zero-padded FFT)."""
    response = ramp_filter_response(np.shape(projections)[axis], sample_spacing_mm, filter_name, grid_nyquist_per_mm)
    return convolve(projections, response, axis)


def window_projections(projections: np.ndarray, sample_spacing_mm: float, filter_name: FilterSpec, axis: int = -1,
                       grid_nyquist_per_mm: float = np.inf) -> np.ndarray:
    """Apply only the window W(f) (band limit included) along ``axis``: turns ramp-filtered projections
    (e.g. another library's) into band-limited ``filter_name``-filtered ones."""
    response = window_response(np.shape(projections)[axis], sample_spacing_mm, filter_name, grid_nyquist_per_mm)
    return convolve(projections, response, axis)
