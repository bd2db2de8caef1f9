"""Iterative reconstruction from the low-dose projections, with the algorithm each backend supports.

astra (CPU fan beam): PWLS with a Huber prior (:mod:`.pwls`); mbirjax: qGGMRF MBIR
(:mod:`.mbir`); tigre (CUDA): ASD-POCS (:mod:`.asd_pocs`). ``regularization``
multiplies each method's tuned default prior strength (1 = default); ``iterations``
None takes each method's default. Adding a backend: one line in :data:`ITERATIVE_BY_BACKEND`.
"""
from __future__ import annotations

import numpy as np

from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.reconstruction.asd_pocs import reconstruct_asd_pocs
from LowDoseRobustnessLib.reconstruction.mbir import reconstruct_mbir
from LowDoseRobustnessLib.reconstruction.pwls import reconstruct_pwls

ITERATIVE_BY_BACKEND = {
    "astra": reconstruct_pwls,
    "mbirjax": reconstruct_mbir,
    "tigre": reconstruct_asd_pocs,
}


def reconstruct_iterative(line_integrals: np.ndarray, projector, counts: np.ndarray | None = None,
                          regularization: float = 1.0, iterations: int | None = None) -> np.ndarray:
    """Statistical/regularised reconstruction ``[z, y, x]`` in 1/mm for the projector's backend."""
    if projector.name not in ITERATIVE_BY_BACKEND:
        raise InputError(f"no iterative reconstruction for the {projector.name!r} backend; "
                         f"available for: {', '.join(ITERATIVE_BY_BACKEND)}")
    options = {} if iterations is None else {"iterations": int(iterations)}
    return ITERATIVE_BY_BACKEND[projector.name](line_integrals, projector, counts,
                                                 regularization=regularization, **options)
