"""Model-based iterative reconstruction (MBIR) with the qGGMRF prior (Bouman & Sauer 1993; Thibault et al. 2007).

    mu* = argmin 1/2 ||l - A mu||_W^2 + beta sum_jk w_jk rho(mu_j - mu_k),
    rho(t) = (t^2 / 2) / (1 + |t / (T sigma)|^(2 - q)),   p = 2, q = 1.2,

W = expected counts (1/var of the line integrals). rho is quadratic for small differences and
grows as |t|^q beyond the knee T sigma, so edges are kept. A backend with its own qGGMRF solver
(:class:`.projection.base.QggmrfSolver`: mbirjax's vector coordinate descent over its 3D
neighbourhood, sharpness from ``regularization``) solves it; on any other backend the
majorize-minimize PCG solver of :mod:`.pwls` does, over the forward and back projection, with
the symmetric-bound curvature rho'(t)/t = (1 + q r/2) / (1 + r)^2, r = |t / (T sigma)|^(2 - q),
on the in-plane 8-neighbourhood, ``CG_STEPS_PER_ITERATION`` CG steps per iteration.
"""
from __future__ import annotations

import numpy as np

from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.projection.base import QggmrfSolver
from LowDoseRobustnessLib.reconstruction.pwls import Curvature, minimize_penalized_wls
from LowDoseRobustnessLib.simulation.attenuation import MU_WATER_PER_MM

DEFAULT_ITERATIONS = 10
Q_SHAPE = 1.2
KNEE_HU = 20.0
"""T sigma of the qGGMRF potential (generic solver), in HU: quadratic below, |t|^q above."""
CG_STEPS_PER_ITERATION = 2


def qggmrf_curvature(knee_per_mm: float, q: float = Q_SHAPE) -> Curvature:
    """rho'(t)/t of the qGGMRF potential (p = 2) divided by its value at 0: (1 + q r/2)/(1 + r)^2."""

    def curvature(difference: np.ndarray) -> np.ndarray:
        ratio = (difference / knee_per_mm) ** (2.0 - q)
        return (1.0 + 0.5 * q * ratio) / (1.0 + ratio) ** 2

    return curvature


def reconstruct_mbir(line_integrals: np.ndarray, projector, counts: np.ndarray | None = None,
                     regularization: float = 1.0, iterations: int = DEFAULT_ITERATIONS) -> np.ndarray:
    """qGGMRF MBIR ``[z, y, x]`` in 1/mm: the backend's own solver when it has one, else MM-PCG over A and A^T."""
    if not regularization > 0 or iterations < 1:
        raise InputError("MBIR needs regularization > 0 (1 = the default prior strength) and at least one iteration")
    if isinstance(projector, QggmrfSolver):
        return projector.reconstruct_qggmrf(line_integrals, counts, regularization, int(iterations))
    return minimize_penalized_wls(line_integrals, projector, counts, regularization,
                                  CG_STEPS_PER_ITERATION * int(iterations),
                                  qggmrf_curvature(KNEE_HU * MU_WATER_PER_MM / 1000.0))


reconstruct_mbir.native_solver = QggmrfSolver
"""The optional capability this method uses when the backend offers it."""
