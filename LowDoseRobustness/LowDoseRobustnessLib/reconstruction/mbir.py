"""Model-based iterative reconstruction (MBIR) with mbirjax's qGGMRF prior (Bouman & Sauer 1993).

mbirjax minimises 1/(2 sigma_y^2) ||l - A mu||_W^2 + sum_jk b_jk rho(mu_j - mu_k) by vector
coordinate descent, with W = expected counts (1/var of the line integrals) and the
q-generalized Gaussian MRF potential rho (p = 2, q = 1.2 by default; edge-preserving).
Its prior scale is sigma_x = 0.2 x 2^sharpness x (typical image value); the prior's
weight goes as 1/sigma_x^2, so multiplying it by ``regularization`` lowers sharpness
by log2(regularization)/2. Slow on the CPU: minutes for a full CT.
"""
from __future__ import annotations

import math

import numpy as np

from LowDoseRobustnessLib.errors import InputError

MBIRJAX_DEFAULT_SHARPNESS = 1.0
DEFAULT_ITERATIONS = 10
PARTITION_SEED = 0


def reconstruct_mbir(line_integrals: np.ndarray, projector, counts: np.ndarray | None = None,
                     regularization: float = 1.0, iterations: int = DEFAULT_ITERATIONS) -> np.ndarray:
    """qGGMRF MBIR through the mbirjax projector's model, warm-started by its FDK; ``[z, y, x]`` in 1/mm."""
    if not regularization > 0 or iterations < 1:
        raise InputError("MBIR needs regularization > 0 (1 = mbirjax's default) and at least one iteration")
    model = projector.model
    model.set_params(sharpness=MBIRJAX_DEFAULT_SHARPNESS - 0.5 * math.log2(regularization), verbose=0)
    projections = np.asarray(line_integrals, dtype=np.float32)
    weights = None if counts is None else np.asarray(counts, dtype=np.float32)
    global_state = np.random.get_state()  # mbirjax draws its pixel partitions from numpy's global generator
    np.random.seed(PARTITION_SEED)
    try:
        recon, _ = model.recon(projections, weights=weights, max_iterations=iterations,
                               stop_threshold_change_pct=0, print_logs=False, logfile_path=None)
    finally:
        np.random.set_state(global_state)
    return np.ascontiguousarray(np.asarray(recon, dtype=np.float32).transpose(2, 0, 1))
