"""FBP followed by an image-domain denoiser (:mod:`..denoisers`): the paper's "CNN" option and cheap classics.

The FBP image (1/mm) is converted to HU, denoised, and converted back (below -1000 HU clipped to air).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from LowDoseRobustnessLib.simulation.attenuation import MU_WATER_PER_MM, hu_to_mu, mu_to_hu
from LowDoseRobustnessLib.reconstruction.denoisers import get_denoiser


def denoised_fbp(denoiser_name: str) -> Callable[..., np.ndarray]:
    """A reconstructor: FBP with ``filter_name``, then the denoiser ``denoiser_name`` (options passed on)."""

    def reconstruct(line_integrals: np.ndarray, projector, counts: np.ndarray | None = None,
                    filter_name: str = "ram-lak", mu_water_per_mm: float = MU_WATER_PER_MM,
                    **denoiser_options) -> np.ndarray:
        hu = mu_to_hu(projector.reconstruct_fbp(line_integrals, filter_name=filter_name), mu_water_per_mm)
        denoised = get_denoiser(denoiser_name, **denoiser_options).denoise(hu)
        return hu_to_mu(denoised, mu_water_per_mm)

    reconstruct.uses_counts = False
    reconstruct.__name__ = f"reconstruct_fbp_{denoiser_name}"
    reconstruct.__doc__ = f"FBP, then the {denoiser_name!r} denoiser in HU; attenuation ``[z, y, x]`` in 1/mm."
    return reconstruct


reconstruct_fbp_cnn = denoised_fbp("cnn")
reconstruct_fbp_nlm = denoised_fbp("nlm")
