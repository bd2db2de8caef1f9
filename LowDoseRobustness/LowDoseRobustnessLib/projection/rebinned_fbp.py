"""FBP of fan-beam slices by rebinning to parallel beams (Kak & Slaney 1988, ch. 3.4), on the CPU.

Fan ray (beta, u) is parallel ray (theta, s) with gamma = atan(u / SDD), theta = beta - gamma,
s = SID sin gamma. The two half-turns measure every line twice and are averaged; the parallel
projections are ramp-filtered along s, band-limited to the Nyquist frequency of the image grid
(:mod:`..reconstruction.filters`), and backprojected pixel-driven: each pixel takes, per view,
the filtered projection linearly interpolated at its own s = -x sin(theta) - y cos(theta)
(x right, y down the rows), f = pi/M sum_theta q_theta(s) (Kak & Slaney eq. 3.45). A ray-driven
adjoint as backprojector (the transpose of a line-length matrix) leaves a fixed moire pattern of
several HU on uniform water; pixel-driven interpolation of band-limited projections does not.
Both steps are sparse matrices built once per geometry and grid; on a square grid a quarter turn
maps the grid onto itself, so only the first half of the parallel views is stored.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse as sp
import torch

from LowDoseRobustnessLib.projection.geometry import ScanGeometry
from LowDoseRobustnessLib.projection.sparse import to_torch_csr
from LowDoseRobustnessLib.reconstruction.filters import FilterSpec, filter_projections

SLICES_PER_CHUNK = 16
"""Slices per sparse product: small enough that the slice block stays in cache."""
PIXELS_PER_BUILD_BLOCK = 8192


def rebinning_matrix(geometry: ScanGeometry, parallel_views: int) -> sp.csr_matrix:
    """Bilinear fan -> parallel rebinning over [0, pi), averaging the two half-turns.

    Parallel ray (theta, s) is the fan ray with gamma = asin(s / SID), beta = theta + gamma,
    u = SDD tan gamma; the same line is measured again, reversed, as parallel ray (theta + pi, -s).
    """
    sid, sdd = geometry.source_isocenter_mm, geometry.source_detector_mm
    columns, views = geometry.detector_columns, geometry.n_views
    pixel = geometry.detector_column_mm
    ds = pixel / geometry.magnification
    theta = np.arange(parallel_views) * np.pi / parallel_views
    s = (np.arange(columns) - (columns - 1) / 2) * ds
    rows, cols, weights = [], [], []
    row_index = np.arange(parallel_views * columns).reshape(parallel_views, columns)
    for turn_theta, turn_s in ((theta, s), (theta + np.pi, -s)):
        gamma = np.arcsin(np.clip(turn_s / sid, -1, 1))
        beta = turn_theta[:, None] + gamma[None, :]
        u = np.broadcast_to(sdd * np.tan(gamma), beta.shape)
        view_pos = (beta % (2 * np.pi)) / (2 * np.pi / views)
        column_pos = u / pixel + (columns - 1) / 2
        v0 = np.floor(view_pos).astype(np.int64)
        c0 = np.floor(column_pos).astype(np.int64)
        fv, fc = view_pos - v0, column_pos - c0
        for dv, dc, w in ((0, 0, (1 - fv) * (1 - fc)), (1, 0, fv * (1 - fc)), (0, 1, (1 - fv) * fc), (1, 1, fv * fc)):
            c = c0 + dc
            inside = (c >= 0) & (c < columns)
            rows.append(row_index[inside])
            cols.append(((v0 + dv) % views)[inside] * columns + c[inside])
            weights.append(0.5 * w[inside])
    return sp.csr_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(parallel_views * columns, views * columns), dtype=np.float32)


def backprojection_matrix(grid: tuple[int, int], pixel_mm: tuple[float, float], theta: np.ndarray,
                          columns: int, ds_mm: float) -> sp.csr_matrix:
    """Pixel-driven linear-interpolation backprojector: rows are pixels, columns (view, detector column).

    Every pixel has exactly two entries per view (the grid lies inside the detector), so the
    CSR arrays are filled directly, pixel block by pixel block, without sorting.
    """
    gy, gx = grid
    y, x = np.meshgrid((np.arange(gy) - (gy - 1) / 2) * pixel_mm[1], (np.arange(gx) - (gx - 1) / 2) * pixel_mm[0],
                       indexing="ij")
    x, y = x.ravel(), y.ravel()
    n_pixels, n_views = x.size, theta.size
    sin, cos = np.sin(theta), np.cos(theta)
    view_offset = (np.arange(n_views) * columns).astype(np.int64)
    indices = np.empty((n_pixels, n_views, 2), np.int32)
    data = np.empty((n_pixels, n_views, 2), np.float32)
    for start in range(0, n_pixels, PIXELS_PER_BUILD_BLOCK):
        block = slice(start, start + PIXELS_PER_BUILD_BLOCK)
        position = (-np.outer(x[block], sin) - np.outer(y[block], cos)) / ds_mm + (columns - 1) / 2
        first = np.clip(np.floor(position).astype(np.int64), 0, columns - 2)
        fraction = position - first
        indices[block, :, 0] = view_offset + first
        indices[block, :, 1] = view_offset + first + 1
        data[block, :, 0] = 1.0 - fraction
        data[block, :, 1] = fraction
    indptr = np.arange(0, 2 * n_views * n_pixels + 1, 2 * n_views, dtype=np.int64)
    return sp.csr_matrix((data.ravel(), indices.ravel(), indptr), shape=(n_pixels, n_views * columns))


@lru_cache(maxsize=2)
def _fbp_matrices(geometry: ScanGeometry, grid: tuple[int, int], pixel_mm: tuple[float, float], blocks: int):
    """(rebinning, backprojection of the first 1/blocks of the parallel views) as torch CSR tensors."""
    parallel_views = geometry.n_views // 2
    theta = np.arange(parallel_views // blocks) * np.pi / parallel_views
    ds = geometry.detector_column_mm / geometry.magnification
    return (to_torch_csr(rebinning_matrix(geometry, parallel_views)),
            to_torch_csr(backprojection_matrix(grid, pixel_mm, theta, geometry.detector_columns, ds)))


def rebinned_fbp(projections: np.ndarray, geometry: ScanGeometry, grid: tuple[int, int],
                 pixel_mm: tuple[float, float], filter_name: FilterSpec = "ram-lak") -> np.ndarray:
    """Attenuation ``[slice, y, x]`` (1/mm) on the square or rectangular ``grid`` from fan projections
    ``[view, slice, column]``: rebin, filter (band-limited to the grid), backproject pixel-driven."""
    parallel_views = geometry.n_views // 2
    square = grid[0] == grid[1] and np.isclose(pixel_mm[0], pixel_mm[1], rtol=1e-4) and parallel_views % 2 == 0
    blocks = 2 if square else 1
    rebin, backproject = _fbp_matrices(geometry, tuple(grid), tuple(pixel_mm), blocks)
    per_block = parallel_views // blocks
    columns = geometry.detector_columns
    ds = geometry.detector_column_mm / geometry.magnification
    grid_nyquist = 0.5 / max(pixel_mm)
    gy, gx = grid
    volume = np.empty((projections.shape[1], gy, gx), np.float32)
    for start in range(0, projections.shape[1], SLICES_PER_CHUNK):
        chunk = projections[:, start:start + SLICES_PER_CHUNK]
        nzc = chunk.shape[1]
        fan = torch.from_numpy(np.ascontiguousarray(chunk.transpose(0, 2, 1)).reshape(-1, nzc))
        parallel = (rebin @ fan).numpy().reshape(parallel_views, columns, nzc)
        filtered = filter_projections(parallel, ds, filter_name, axis=1, grid_nyquist_per_mm=grid_nyquist)
        image = np.zeros((gy, gx, nzc), np.float32)
        for block in range(blocks):
            part = filtered[block * per_block:(block + 1) * per_block].reshape(-1, nzc)
            back = (backproject @ torch.from_numpy(np.ascontiguousarray(part))).numpy().reshape(gy, gx, nzc)
            image += np.rot90(back, block, axes=(0, 1))
        volume[start:start + nzc] = (image * np.float32(np.pi / parallel_views)).transpose(2, 0, 1)
    return volume
