"""Non-local means (Buades et al. 2005) per slice through scikit-image: a cheap classical denoiser.

Each pixel becomes a weighted mean of pixels whose 5 x 5 neighbourhoods look alike,
weights exp(-max(d^2 - 2 sigma^2, 0) / h^2), with the noise SD sigma estimated per
slice from the wavelet detail coefficients (Donoho & Johnstone 1994) and h = ``strength`` x sigma.
"""
from __future__ import annotations

import numpy as np

PATCH_SIZE = 5
SEARCH_DISTANCE = 6


class NonLocalMeansDenoiser:
    """scikit-image's ``denoise_nl_means`` slice by slice, in HU."""

    name = "nlm"

    def __init__(self, strength: float = 0.6):
        self.strength = float(strength)

    def denoise(self, hu_volume: np.ndarray) -> np.ndarray:
        from skimage.restoration import denoise_nl_means, estimate_sigma

        out = np.empty(np.shape(hu_volume), np.float32)
        for k, hu_slice in enumerate(np.asarray(hu_volume, np.float32)):
            sigma = float(estimate_sigma(hu_slice))
            out[k] = denoise_nl_means(hu_slice, h=self.strength * sigma, sigma=sigma, patch_size=PATCH_SIZE,
                                      patch_distance=SEARCH_DISTANCE, fast_mode=True)
        return out
