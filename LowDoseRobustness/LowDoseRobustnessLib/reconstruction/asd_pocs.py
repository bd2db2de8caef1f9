"""TIGRE's ASD-POCS on a CUDA GPU: OS-SART data steps alternated with total-variation descent.

Sidky & Pan 2008; TIGRE's ``asd_pocs`` (Biguri et al. 2016). ``regularization`` scales
TIGRE's TV step ``alpha`` (default 0.002). TIGRE's algorithms take no statistical
weights, so ``counts`` are not used. Not tested here: it needs TIGRE and CUDA.
"""
from __future__ import annotations

import numpy as np

TIGRE_DEFAULT_TV_STEP = 0.002
DEFAULT_ITERATIONS = 20


def reconstruct_asd_pocs(line_integrals: np.ndarray, projector, counts: np.ndarray | None = None,
                         regularization: float = 1.0, iterations: int = DEFAULT_ITERATIONS) -> np.ndarray:
    """OS-SART + TV from FDK through the TIGRE projector; ``[z, y, x]`` in 1/mm."""
    return projector.reconstruct_asd_pocs(line_integrals, iterations, TIGRE_DEFAULT_TV_STEP * regularization)
