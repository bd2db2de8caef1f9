"""ASD-POCS: data-consistency steps alternated with steepest descent on total variation (Sidky & Pan 2008).

From the non-negative FBP image, each iteration takes one data step, clips to mu >= 0, then
``TV_STEPS`` normalised steepest-descent steps on the in-plane isotropic TV, each of length
dtvg. dtvg starts at ``alpha`` x the first data step's change and is multiplied by
``ALPHA_REDUCTION`` whenever the TV steps move the image more than ``R_MAX`` x the data step
while the data residual is above epsilon (0.2 x that of FBP), as TIGRE's ``asd_pocs``
(Biguri et al. 2016). alpha = ``regularization`` x ``DEFAULT_TV_FRACTION``.

Data step over the protocol's operators (all views at once): SIRT,
mu += lambda C A^T R (l - A mu) with R = 1/(A 1), C = 1/(A^T 1) (Gregor & Benson 2008),
lambda shrinking by ``LAMBDA_REDUCTION`` per iteration. A backend with its own ASD-POCS
(:class:`.projection.base.AsdPocsSolver`: TIGRE's OS-SART + TV on the GPU) runs that instead.
Counts are not used (ASD-POCS is not statistical).
"""
from __future__ import annotations

import numpy as np

from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.projection.base import AsdPocsSolver

DEFAULT_ITERATIONS = 20
DEFAULT_TV_FRACTION = 0.06
TV_STEPS = 20
ALPHA_REDUCTION = 0.95
R_MAX = 0.95
LAMBDA_REDUCTION = 0.99
RESIDUAL_TOLERANCE = 0.2
"""epsilon as a fraction of the FBP image's data residual ||A mu_FBP - l||."""
TV_SMOOTHING = 1e-8
"""Added to the squared gradient magnitude (1/mm^2) so that the TV gradient stays finite in flat regions."""


def tv_gradient(mu: np.ndarray) -> np.ndarray:
    """Gradient of sum sqrt((D_x mu)^2 + (D_y mu)^2 + eps) over every slice ``[z, y, x]`` (forward differences)."""
    dx = np.zeros_like(mu)
    dy = np.zeros_like(mu)
    dx[:, :, :-1] = mu[:, :, 1:] - mu[:, :, :-1]
    dy[:, :-1, :] = mu[:, 1:, :] - mu[:, :-1, :]
    magnitude = np.sqrt(dx * dx + dy * dy + np.float32(TV_SMOOTHING))
    gx, gy = dx / magnitude, dy / magnitude
    gradient = -(gx + gy)
    gradient[:, :, 1:] += gx[:, :, :-1]
    gradient[:, 1:, :] += gy[:, :-1, :]
    return gradient


def _tv_descent(mu: np.ndarray, step: float) -> np.ndarray:
    for _ in range(TV_STEPS):
        gradient = tv_gradient(mu)
        norm = float(np.linalg.norm(gradient))
        if norm == 0:
            break
        mu = mu - np.float32(step / norm) * gradient
    return mu


def reconstruct_asd_pocs(line_integrals: np.ndarray, projector, counts: np.ndarray | None = None,
                         regularization: float = 1.0, iterations: int = DEFAULT_ITERATIONS) -> np.ndarray:
    """ASD-POCS ``[z, y, x]`` in 1/mm: the backend's own when it has one, else SIRT + TV over A and A^T."""
    if not regularization >= 0 or iterations < 1:
        raise InputError("ASD-POCS needs regularization >= 0 (1 = the default TV step) and at least one iteration")
    if isinstance(projector, AsdPocsSolver):
        return projector.reconstruct_asd_pocs(line_integrals, regularization, int(iterations))
    measured = np.asarray(line_integrals, dtype=np.float32)
    mu = np.maximum(projector.reconstruct_fbp(measured, filter_name="ram-lak"), 0)
    ray_weights = 1.0 / np.maximum(projector.forward_project(np.ones_like(mu)), 1e-6)
    pixel_weights = 1.0 / np.maximum(projector.back_project(np.ones_like(measured)), 1e-6)
    residual = measured - projector.forward_project(mu)
    epsilon = RESIDUAL_TOLERANCE * float(np.linalg.norm(residual))
    relaxation, tv_fraction = 1.0, regularization * DEFAULT_TV_FRACTION
    for _ in range(int(iterations)):
        before = mu
        mu = np.maximum(mu + np.float32(relaxation) * pixel_weights * projector.back_project(ray_weights * residual), 0)
        data_change = float(np.linalg.norm(mu - before))
        smoothed = _tv_descent(mu, tv_fraction * data_change)
        tv_change = float(np.linalg.norm(smoothed - mu))
        mu = smoothed
        residual = measured - projector.forward_project(mu)
        if tv_change > R_MAX * data_change and float(np.linalg.norm(residual)) > epsilon:
            tv_fraction *= ALPHA_REDUCTION
        relaxation *= LAMBDA_REDUCTION
    return mu


reconstruct_asd_pocs.uses_counts = False
reconstruct_asd_pocs.native_solver = AsdPocsSolver
"""The optional capability this method uses when the backend offers it."""
