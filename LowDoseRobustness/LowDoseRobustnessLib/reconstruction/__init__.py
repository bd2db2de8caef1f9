"""Registry of reconstruction methods. Adding one: a function with the :data:`Reconstructor`
signature in its own module, plus one line in :data:`RECONSTRUCTORS`.

A reconstructor takes line integrals ``[view, row, column]``, the projector bound to the
geometry, the expected counts per ray (the statistical weights 1/var(l) of a
Poisson measurement; None when unknown) and the method's options; it returns
attenuation ``[z, y, x]`` in 1/mm. A method that ignores the counts says so with the
attribute ``uses_counts = False``, and is then given None.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..volume import InputError
from .denoised import denoised_fbp
from .fbp import reconstruct_fbp
from .iterative import reconstruct_iterative

Reconstructor = Callable[..., np.ndarray]

RECONSTRUCTORS: dict[str, Reconstructor] = {
    "fbp": reconstruct_fbp,
    "iterative": reconstruct_iterative,
    "cnn": denoised_fbp("cnn"),
    "nlm": denoised_fbp("nlm"),
}


def get_reconstructor(name: str) -> Reconstructor:
    """The reconstruction method called ``name``, or a clear error listing the choices."""
    try:
        return RECONSTRUCTORS[name]
    except KeyError:
        raise InputError(f"unknown reconstruction {name!r}; choose one of {', '.join(RECONSTRUCTORS)}") from None
