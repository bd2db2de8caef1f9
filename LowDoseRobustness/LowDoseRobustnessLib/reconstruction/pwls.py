"""Penalized weighted least squares (PWLS) with an edge-preserving Huber prior.

Statistical reconstruction (Sauer & Bouman 1993; Fessler 1994):

    mu* = argmin_mu  1/2 (A mu - l)^T W (A mu - l) + beta R(mu),

A the projector (``forward_project``, adjoint ``back_project``: the protocol's two
operators, so it runs on every backend), l the measured line
integrals, W = diag(expected counts): the inverse variance of l = ln(I0/n) for Poisson
counts (var l ~ 1/n, see ``dose.py``). R sums a Huber potential over the in-plane
8-neighbourhood (weights 1 and 1/sqrt 2): quadratic for differences below ``edge_hu``
(noise is smoothed), linear above (edges are kept).

Solver (:func:`minimize_penalized_wls`, any potential whose psi'(t)/t falls with |t|):
majorize-minimize. At the current image the potential is majorized by
the quadratic of curvature psi'(t)/t (Huber: min(1, delta/|t|); half-quadratic, Geman &
Yang 1995); each surrogate is decreased by ``CG_STEPS_PER_REWEIGHT`` preconditioned
conjugate-gradient steps, preconditioned by the separable-surrogate denominators
A^T W A 1 (Erdogan & Fessler 1999) plus the prior's diagonal. Warm start: FBP.
beta = ``regularization`` x ``BETA_PER_REGULARIZATION`` x mean(A^T W A 1): the prior's
curvature relative to the data's, so one setting gives about the same noise reduction
at any dose or flux; ``regularization`` = 1 is the tuned default, 0 plain weighted LS.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from LowDoseRobustnessLib.simulation.attenuation import MU_WATER_PER_MM
from LowDoseRobustnessLib.errors import InputError

BETA_PER_REGULARIZATION = 0.001
DEFAULT_ITERATIONS = 20
DEFAULT_EDGE_HU = 20.0
CG_STEPS_PER_REWEIGHT = 5
NEIGHBOURS = ((0, 1, 1.0), (1, 0, 1.0), (1, 1, 1 / math.sqrt(2)), (1, -1, 1 / math.sqrt(2)))
"""In-plane neighbour offsets (dy, dx) with their weights; each pair is counted once."""


def _pairs(dy: int, dx: int) -> tuple[tuple, tuple]:
    """Index tuples selecting every voxel j = (y, x) and its neighbour k = (y + dy, x + dx)."""
    x_first, x_second = (slice(0, -dx or None), slice(dx, None)) if dx >= 0 else (slice(-dx, None), slice(0, dx))
    return (Ellipsis, slice(0, -dy or None), x_first), (Ellipsis, slice(dy, None), x_second)


Curvature = Callable[[np.ndarray], np.ndarray]
"""psi'(t)/t of a potential, divided by its value at t = 0, for absolute differences |t| in 1/mm."""


def huber_curvature(delta_per_mm: float) -> Curvature:
    """Huber potential: quadratic below ``delta_per_mm``, linear above; psi'(t)/t = min(1, delta/|t|)."""
    return lambda difference: np.minimum(1.0, delta_per_mm / np.maximum(difference, 1e-12))


def _curvatures(mu: np.ndarray, curvature: Curvature) -> list[np.ndarray]:
    """w_jk psi'(t)/t at t = mu_k - mu_j per neighbour pair: the surrogate curvatures at ``mu``."""
    curvatures = []
    for dy, dx, weight in NEIGHBOURS:
        first, second = _pairs(dy, dx)
        curvatures.append((weight * curvature(np.abs(mu[second] - mu[first]))).astype(np.float32))
    return curvatures


def _prior_hessian(image: np.ndarray, curvatures: list[np.ndarray]) -> np.ndarray:
    """Sum over pairs of c_jk (x_j - x_k) at j and c_jk (x_k - x_j) at k (a weighted graph Laplacian)."""
    out = np.zeros_like(image)
    for (dy, dx, _), curvature in zip(NEIGHBOURS, curvatures):
        first, second = _pairs(dy, dx)
        flux = curvature * (image[second] - image[first])
        out[first] -= flux
        out[second] += flux
    return out


def _prior_diagonal(shape: tuple, curvatures: list[np.ndarray]) -> np.ndarray:
    out = np.zeros(shape, np.float32)
    for (dy, dx, _), curvature in zip(NEIGHBOURS, curvatures):
        first, second = _pairs(dy, dx)
        out[first] += curvature
        out[second] += curvature
    return out


def reconstruct_pwls(line_integrals: np.ndarray, projector, counts: np.ndarray | None = None,
                     regularization: float = 1.0, iterations: int = DEFAULT_ITERATIONS,
                     edge_hu: float = DEFAULT_EDGE_HU) -> np.ndarray:
    """PWLS-Huber attenuation ``[z, y, x]`` in 1/mm; ``counts`` (expected photons per ray) weight the rays.

    ``iterations`` counts CG steps, each one forward and one back projection.
    """
    if regularization < 0 or iterations < 0 or edge_hu <= 0:
        raise InputError("iterative reconstruction needs regularization >= 0, iterations >= 0 and edge_hu > 0")
    return minimize_penalized_wls(line_integrals, projector, counts, regularization, iterations,
                                  huber_curvature(edge_hu * MU_WATER_PER_MM / 1000.0))


reconstruct_pwls.native_solver = None
"""Capabilities beyond the protocol's forward and back projection: none."""


def minimize_penalized_wls(line_integrals: np.ndarray, projector, counts: np.ndarray | None,
                           regularization: float, iterations: int, curvature: Curvature) -> np.ndarray:
    """argmin 1/2 (A mu - l)^T W (A mu - l) + beta sum w_jk psi(mu_j - mu_k) from FBP, by majorize-minimize
    with ``iterations`` preconditioned CG steps; beta = ``regularization`` x BETA_PER_REGULARIZATION x
    mean(A^T W A 1). Uses only the projector's forward and back projection (and FBP to start)."""
    measured = np.asarray(line_integrals, dtype=np.float32)
    weights = np.ones_like(measured) if counts is None else np.asarray(counts, dtype=np.float32)
    mu = projector.reconstruct_fbp(measured, filter_name="ram-lak")
    data_diagonal = projector.back_project(weights * projector.forward_project(np.ones_like(mu)))
    beta = np.float32(regularization * BETA_PER_REGULARIZATION * data_diagonal.mean())
    projected = projector.forward_project(mu)
    data_gradient = projector.back_project(weights * (projected - measured))
    done = 0
    while done < iterations:
        curvatures = _curvatures(mu, curvature)
        preconditioner = data_diagonal + beta * _prior_diagonal(mu.shape, curvatures) + np.float32(1e-12)
        residual = -(data_gradient + beta * _prior_hessian(mu, curvatures))
        direction = residual / preconditioner
        residual_dot = float(np.vdot(residual, direction))
        for _ in range(min(CG_STEPS_PER_REWEIGHT, iterations - done)):
            projected_direction = projector.forward_project(direction)
            data_step = projector.back_project(weights * projected_direction)
            hessian_direction = data_step + beta * _prior_hessian(direction, curvatures)
            curvature_along = float(np.vdot(direction, hessian_direction))
            if not curvature_along > 0:  # converged: the search direction vanished
                return mu
            step = np.float32(residual_dot / curvature_along)
            mu += step * direction
            data_gradient += step * data_step
            residual -= step * hessian_direction
            preconditioned = residual / preconditioner
            new_residual_dot = float(np.vdot(residual, preconditioned))
            direction = preconditioned + np.float32(new_residual_dot / residual_dot) * direction
            residual_dot = new_residual_dot
            done += 1
    return mu
