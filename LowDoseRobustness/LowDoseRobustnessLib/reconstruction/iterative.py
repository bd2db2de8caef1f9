"""Iterative reconstruction from the low-dose projections: PWLS, qGGMRF MBIR or ASD-POCS.

Every algorithm in :data:`.contract.ITERATIVE_ALGORITHMS` runs on any backend through the
projector protocol (forward and back projection), and declares in ``native_solver`` the
optional capability it uses when the backend offers its own solver. By default the
algorithm whose solver the backend offers is taken (mbirjax: MBIR by vector coordinate
descent; TIGRE: ASD-POCS on the GPU), else PWLS. ``regularization`` multiplies each
algorithm's tuned default prior strength (1 = default); ``iterations`` None takes its default.
"""
from __future__ import annotations

import numpy as np

from LowDoseRobustnessLib.contract import ITERATIVE_ALGORITHMS

DEFAULT_ALGORITHM = "pwls"


def preferred_algorithm(projector) -> str:
    """The algorithm whose own solver the projector offers (checked by capability, not by name), else PWLS."""
    for name in ITERATIVE_ALGORITHMS:
        native_solver = ITERATIVE_ALGORITHMS.load(name).native_solver
        if native_solver and isinstance(projector, native_solver):
            return name
    return DEFAULT_ALGORITHM


def reconstruct_iterative(line_integrals: np.ndarray, projector, counts: np.ndarray | None = None,
                          regularization: float = 1.0, iterations: int | None = None,
                          algorithm: str | None = None) -> np.ndarray:
    """Statistical/regularised reconstruction ``[z, y, x]`` in 1/mm (``algorithm`` None: :func:`preferred_algorithm`)."""
    reconstruct = ITERATIVE_ALGORITHMS.load(algorithm or preferred_algorithm(projector))
    options = {} if iterations is None else {"iterations": int(iterations)}
    return reconstruct(line_integrals, projector, counts, regularization=regularization, **options)
