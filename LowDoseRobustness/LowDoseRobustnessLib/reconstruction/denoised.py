"""FBP followed by an image-domain denoiser (:mod:`..denoisers`): the paper's "CNN" option and cheap classics.

The FBP image (1/mm) is converted to HU, denoised, and converted back (below -1000 HU clipped to air).
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np

from LowDoseRobustnessLib.simulation.attenuation import MU_WATER_PER_MM, hu_to_mu, mu_to_hu
from LowDoseRobustnessLib.reconstruction.denoisers import get_denoiser


def denoise_fbp_image(mu: np.ndarray, denoiser_name: str, mu_water_per_mm: float = MU_WATER_PER_MM,
                      **denoiser_options) -> np.ndarray:
    """The FBP image ``mu`` (1/mm) denoised in HU by ``denoiser_name``, back in 1/mm."""
    hu = mu_to_hu(mu, mu_water_per_mm)
    return hu_to_mu(get_denoiser(denoiser_name, **denoiser_options).denoise(hu), mu_water_per_mm)


def denoised_fbp(denoiser_name: str) -> Callable[..., np.ndarray]:
    """A reconstructor: FBP with ``filter_name``, then the denoiser ``denoiser_name`` (options passed on)."""

    def reconstruct(line_integrals: np.ndarray, projector, counts: np.ndarray | None = None,
                    filter_name: str = "ram-lak", mu_water_per_mm: float = MU_WATER_PER_MM,
                    **denoiser_options) -> np.ndarray:
        mu = projector.reconstruct_fbp(line_integrals, filter_name=filter_name)
        return denoise_fbp_image(mu, denoiser_name, mu_water_per_mm, **denoiser_options)

    reconstruct.uses_counts = False
    reconstruct.after_fbp = partial(denoise_fbp_image, denoiser_name=denoiser_name)
    reconstruct.__name__ = f"reconstruct_fbp_{denoiser_name}"
    reconstruct.__doc__ = f"FBP, then the {denoiser_name!r} denoiser in HU; attenuation ``[z, y, x]`` in 1/mm."
    return reconstruct


reconstruct_fbp_cnn = denoised_fbp("cnn")
reconstruct_fbp_nlm = denoised_fbp("nlm")
