"""Image-domain denoisers, catalogued in :data:`.contract.DENOISERS` and loaded on first use.

Adding one: a module with a class that has ``name`` and ``denoise(hu_volume) -> hu_volume``
(arrays ``[z, y, x]`` in HU), plus one line in the contract.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from LowDoseRobustnessLib.contract import DENOISERS


class Denoiser(Protocol):
    """Maps a reconstructed CT ``[z, y, x]`` in HU to a denoised one of the same shape, in HU."""

    name: str

    def denoise(self, hu_volume: np.ndarray) -> np.ndarray: ...


def get_denoiser(name: str, **options) -> Denoiser:
    """The denoiser called ``name`` built with ``options``, or a clear error listing the choices."""
    return DENOISERS.load(name)(**options)


__all__ = ["Denoiser", "get_denoiser"]
