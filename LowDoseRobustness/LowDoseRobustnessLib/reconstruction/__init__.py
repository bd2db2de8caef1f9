"""Reconstruction methods, catalogued in :data:`.contract.RECONSTRUCTIONS` and loaded on first use.

A reconstructor takes line integrals ``[view, row, column]``, the projector bound to the
geometry, the expected counts per ray (the statistical weights 1/var(l) of a
Poisson measurement; None when unknown) and the method's options; it returns
attenuation ``[z, y, x]`` in 1/mm. A method that ignores the counts says so with the
attribute ``uses_counts = False``, and is then given None. A method that is FBP followed by
an image-domain step says so with the attribute ``after_fbp``: that step as a function of the
FBP image (1/mm) and the method's other options, or None for plain FBP; the simulator then adds
noise to the FBP image itself. Adding one: a function with this signature in its own module,
plus one line in the contract.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from LowDoseRobustnessLib.contract import RECONSTRUCTIONS

Reconstructor = Callable[..., np.ndarray]


def get_reconstructor(name: str) -> Reconstructor:
    """The reconstruction method called ``name``, or a clear error listing the choices."""
    return RECONSTRUCTIONS.load(name)
