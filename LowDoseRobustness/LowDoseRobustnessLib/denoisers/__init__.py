"""Registry of image-domain denoisers. Adding one: a module with a class that has ``name`` and
``denoise(hu_volume) -> hu_volume`` (arrays ``[z, y, x]`` in HU), plus one line in :data:`DENOISERS`.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from ..volume import InputError
from .nlm import NonLocalMeansDenoiser
from .redcnn import RedCnnDenoiser


class Denoiser(Protocol):
    """Maps a reconstructed CT ``[z, y, x]`` in HU to a denoised one of the same shape, in HU."""

    name: str

    def denoise(self, hu_volume: np.ndarray) -> np.ndarray: ...


DENOISERS: dict[str, type] = {cls.name: cls for cls in (RedCnnDenoiser, NonLocalMeansDenoiser)}


def get_denoiser(name: str, **options) -> Denoiser:
    """The denoiser called ``name`` built with ``options``, or a clear error listing the choices."""
    if name not in DENOISERS:
        raise InputError(f"unknown denoiser {name!r}; choose one of {', '.join(DENOISERS)}")
    return DENOISERS[name](**options)


__all__ = ["DENOISERS", "Denoiser", "get_denoiser"]
