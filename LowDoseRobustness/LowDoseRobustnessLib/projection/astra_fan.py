"""Per-slice fan-beam projector on the CPU: the line model of astra-toolbox's ``line_fanflat`` as a sparse matrix.

In fan mode every slice sees the same projection operator, so it is built once per
geometry and grid as a sparse matrix of ray-pixel intersection lengths (mm;
:mod:`.line_matrix`, entry by entry ASTRA's ``line_fanflat`` kernel on square pixels,
exact on rectangular ones) and applied to all slices at once (a sparse x dense product
over the slice axis). The grid's symmetries (:mod:`.symmetry`) map the views onto each
other, so only one view per orbit is stored: one in eight on a square grid (views of
the first 45 degrees), one in four on a rectangular one; each product projects the
moved images (rotated, mirrored) of a slice block at once. The matrix is built here,
vectorised on every core (1.6x faster than ASTRA's single-threaded construction and
element-by-element export, and exact on rectangular pixels, which ASTRA refuses).

Reconstruction rebins the fan data to parallel beams (theta = beta - gamma,
s = SID sin gamma, gamma = atan(u / SDD); Kak & Slaney ch. 3.4), folds the two
redundant half-turns, ramp-filters along s and backprojects with the transpose of
the parallel-beam line matrix. astra-toolbox itself is not called (its 3D code
needs CUDA and aborts the process without it); the tests compare against it.
"""
from __future__ import annotations

import hashlib
import math
import os
import shutil
import warnings
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from LowDoseRobustnessLib.projection.base import as_projections, as_volume
from LowDoseRobustnessLib.projection.geometry import ScanGeometry
from LowDoseRobustnessLib.projection.line_matrix import fan_beam_rays, parallel_beam_rays, ray_pixel_lengths
from LowDoseRobustnessLib.projection.symmetry import ViewSymmetry, view_symmetry
from LowDoseRobustnessLib.reconstruction.filters import filter_projections
from LowDoseRobustnessLib.errors import InputError

BACKWARD_SLICES_PER_CHUNK = 16
"""Slices per sparse product: small enough that the slice block stays in cache (measured best on 2 cores)."""
IMAGES_PER_PRODUCT = 8
"""Moved slice images per product of the symmetric projector (columns of its dense block, as many as the
slices per product measured best on 2 cores before: 8 motions x 1 slice, or 4 x 2 on rectangular pixels)."""
CACHE_FORMAT = 3
MATRIX_NAMES = ("fan", "parallel_t", "rebin")
CSR_PARTS = ("data", "indices", "indptr")


def _to_torch_csr(matrix: sp.csr_matrix) -> torch.Tensor:
    matrix = matrix.tocsr().astype(np.float32, copy=False)
    index_type = np.int32 if matrix.nnz < 2 ** 31 else np.int64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(torch.from_numpy(matrix.indptr.astype(index_type, copy=False)),
                                       torch.from_numpy(matrix.indices.astype(index_type, copy=False)),
                                       torch.from_numpy(matrix.data), size=matrix.shape, check_invariants=False)


def _cache_folder(geometry: ScanGeometry, grid, pixel_mm, quarters) -> Path | None:
    """Where the matrices of this geometry and grid are kept between runs (None: caching off)."""
    folder = os.environ.get("LOWDOSE_MATRIX_CACHE", str(Path.home() / ".cache" / "lowdose-robustness"))
    if folder in ("", "0", "off"):
        return None
    key = repr((geometry, grid, pixel_mm, quarters, _symmetry(geometry, grid, pixel_mm).name, CACHE_FORMAT))
    return Path(folder) / f"astra-fan-{hashlib.sha256(key.encode()).hexdigest()[:20]}"


def _load_or_build(geometry: ScanGeometry, grid, pixel_mm, quarters) -> tuple[sp.csr_matrix, ...]:
    """The matrices from the cache folder (plain .npy files, read at disk speed), else built and stored."""
    folder = _cache_folder(geometry, grid, pixel_mm, quarters)
    if folder is not None and folder.is_dir():
        try:
            return tuple(sp.csr_matrix(tuple(np.load(folder / f"{name}_{part}.npy") for part in CSR_PARTS),
                                       shape=tuple(np.load(folder / f"{name}_shape.npy")))
                         for name in MATRIX_NAMES)
        except (OSError, ValueError):
            shutil.rmtree(folder, ignore_errors=True)  # a damaged cache entry is rebuilt
    matrices = _build_matrices(geometry, grid, pixel_mm, quarters)
    if folder is not None:
        partial = folder.with_name(folder.name + f".partial-{os.getpid()}")
        partial.mkdir(parents=True, exist_ok=True)
        for name, matrix in zip(MATRIX_NAMES, matrices):
            for part in CSR_PARTS:
                np.save(partial / f"{name}_{part}.npy", getattr(matrix, part))
            np.save(partial / f"{name}_shape.npy", np.array(matrix.shape))
        try:
            partial.rename(folder)
        except OSError:  # another process stored it first
            shutil.rmtree(partial, ignore_errors=True)
    return matrices


class AstraFanBeamProjector:
    """Fan beam per slice, CPU, the line model of astra-toolbox's ``line_fanflat`` as a sparse matrix."""

    name = "astra"
    device = "cpu"
    modes = ("fan",)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None  # numpy, scipy and torch only

    def __init__(self, geometry: ScanGeometry, volume_shape, spacing_mm):
        if geometry.mode != "fan":
            raise InputError("the astra CPU backend projects fan beams per slice; use mbirjax or tigre for cone beams")
        nz, ny, nx = volume_shape
        sx, sy, _ = spacing_mm
        geometry.check_covers(volume_shape, spacing_mm)
        self.geometry = geometry
        self.volume_shape = (nz, ny, nx)
        square_pixels = math.isclose(sx, sy, rel_tol=1e-4)
        self.grid = (max(nx, ny),) * 2 if square_pixels else (ny, nx)
        self.pixel_mm = (sx, sy)
        self.square = square_pixels and geometry.n_views % 4 == 0
        self.quarters = 4 if self.square else 1
        matrix_pixel_mm = (round(sx, 6),) * 2 if square_pixels else (round(sx, 6), round(sy, 6))
        self.symmetry = _symmetry(geometry, self.grid, matrix_pixel_mm)
        matrices = _system_matrices(geometry, self.grid, matrix_pixel_mm, self.quarters)
        self._fan, self._parallel_t, self._rebin = matrices

    # -- grid helpers --------------------------------------------------------------
    def _pad(self, mu: np.ndarray) -> np.ndarray:
        _, ny, nx = mu.shape
        gy, gx = self.grid
        out = np.zeros((mu.shape[0], gy, gx), np.float32)
        y0, x0 = (gy - ny) // 2, (gx - nx) // 2
        out[:, y0:y0 + ny, x0:x0 + nx] = mu
        return out

    def _crop(self, image: np.ndarray) -> np.ndarray:
        _, ny, nx = self.volume_shape
        gy, gx = self.grid
        y0, x0 = (gy - ny) // 2, (gx - nx) // 2
        return image[:, y0:y0 + ny, x0:x0 + nx]

    def _checked_projections(self, line_integrals: np.ndarray) -> np.ndarray:
        return as_projections(line_integrals, (self.geometry.n_views, self.volume_shape[0],
                                               self.geometry.detector_columns))

    # -- protocol ------------------------------------------------------------------
    def _motion_groups(self) -> list[range]:
        """The motions taken together in one product: at most ``IMAGES_PER_PRODUCT`` moved images."""
        motions = len(self.symmetry.motions)
        size = min(motions, IMAGES_PER_PRODUCT)
        return [range(first, min(first + size, motions)) for first in range(0, motions, size)]

    def forward_project(self, mu_per_mm: np.ndarray) -> np.ndarray:
        """Line integrals ``[view, slice, column]``: sum over rays of mu (1/mm) x length (mm).

        A (TIGRE's ``Ax``). Each product applies the stored views to moved images f o G of a
        slice block; motion G's results are the views it owns (:mod:`.symmetry`).
        """
        mu = as_volume(mu_per_mm, self.volume_shape)
        symmetry, columns = self.symmetry, self.geometry.detector_columns
        stored = len(symmetry.stored_views)
        slices_per_product = max(1, IMAGES_PER_PRODUCT // len(symmetry.motions))
        out = np.empty((symmetry.n_views, mu.shape[0], columns), np.float32)
        for start in range(0, mu.shape[0], slices_per_product):
            chunk = self._pad(mu[start:start + slices_per_product])
            nzc = chunk.shape[0]
            for group in self._motion_groups():
                images = np.empty((chunk[0].size, len(group), nzc), np.float32)
                for column, index in enumerate(group):
                    images[:, column] = symmetry.motions[index].moved(chunk).reshape(nzc, -1).T
                sino = (self._fan @ torch.from_numpy(images.reshape(-1, len(group) * nzc))).numpy()
                sino = sino.reshape(stored, columns, len(group), nzc)
                for column, index in enumerate(group):
                    owned = symmetry.owned[index]
                    views = sino[owned, ::-1, column] if symmetry.motions[index].reflected else sino[owned, :, column]
                    out[symmetry.targets[index][owned], start:start + nzc] = views.transpose(0, 2, 1)
        return out

    def back_project(self, line_integrals: np.ndarray) -> np.ndarray:
        """The exact adjoint of :meth:`forward_project` (A^T, TIGRE's matched ``Atb``): ``[z, y, x]``,
        each ray's value times its path length (mm) in every pixel it crosses."""
        projections = self._checked_projections(line_integrals)
        symmetry, columns = self.symmetry, self.geometry.detector_columns
        stored = len(symmetry.stored_views)
        slices_per_product = max(1, IMAGES_PER_PRODUCT // len(symmetry.motions))
        gy, gx = self.grid
        volume = np.empty(self.volume_shape, np.float32)
        for start in range(0, projections.shape[1], slices_per_product):
            chunk = projections[:, start:start + slices_per_product]
            nzc = chunk.shape[1]
            image = np.zeros((nzc, gy, gx), np.float32)
            for group in self._motion_groups():
                sino = np.zeros((stored, columns, len(group), nzc), np.float32)
                for column, index in enumerate(group):
                    owned = symmetry.owned[index]
                    views = chunk[symmetry.targets[index][owned]].transpose(0, 2, 1)
                    sino[owned, :, column] = views[:, ::-1] if symmetry.motions[index].reflected else views
                back = (self._fan_transposed @ torch.from_numpy(sino.reshape(-1, len(group) * nzc))).numpy()
                back = back.reshape(gy, gx, len(group), nzc).transpose(2, 3, 0, 1)
                for column, index in enumerate(group):
                    image += symmetry.motions[index].moved_back(back[column])
            volume[start:start + nzc] = self._crop(image)
        return volume

    @cached_property
    def _fan_transposed(self) -> torch.Tensor:
        """Transpose of the stored fan matrix, built on first use (only iterative reconstruction needs it)."""
        fan = self._fan
        matrix = sp.csr_matrix((fan.values().numpy(), fan.col_indices().numpy(), fan.crow_indices().numpy()),
                               shape=tuple(fan.shape))
        return _to_torch_csr(matrix.T.tocsr())

    def reconstruct_fbp(self, line_integrals: np.ndarray, filter_name: str = "ram-lak") -> np.ndarray:
        """Attenuation ``[z, y, x]`` in 1/mm: rebin to parallel, ramp-filter, backproject (f = pi/M sum_theta q)."""
        g = self.geometry
        projections = self._checked_projections(line_integrals)
        parallel_views = g.n_views // 2
        blocks = max(1, self.quarters // 2)
        per_block = parallel_views // blocks
        ds = g.detector_column_mm / g.magnification
        gy, gx = self.grid
        scale = np.pi / parallel_views * ds / (self.pixel_mm[0] * self.pixel_mm[1])
        volume = np.empty(self.volume_shape, np.float32)
        for start in range(0, projections.shape[1], BACKWARD_SLICES_PER_CHUNK):
            chunk = projections[:, start:start + BACKWARD_SLICES_PER_CHUNK]
            nzc = chunk.shape[1]
            fan = torch.from_numpy(np.ascontiguousarray(chunk.transpose(0, 2, 1)).reshape(-1, nzc))
            parallel = (self._rebin @ fan).numpy().reshape(parallel_views, g.detector_columns, nzc)
            filtered = filter_projections(parallel, ds, filter_name, axis=1)
            image = np.zeros((gy, gx, nzc), np.float32)
            for block in range(blocks):
                part = filtered[block * per_block:(block + 1) * per_block].reshape(-1, nzc)
                back = (self._parallel_t @ torch.from_numpy(np.ascontiguousarray(part))).numpy().reshape(gy, gx, nzc)
                image += np.rot90(back, block, axes=(0, 1))
            volume[start:start + nzc] = self._crop(np.ascontiguousarray((image * scale).transpose(2, 0, 1)))
        return volume


def _symmetry(geometry: ScanGeometry, grid, pixel_mm) -> ViewSymmetry:
    """The view symmetry of this grid: eight motions on a square grid of square pixels, else four."""
    return view_symmetry(geometry.n_views, grid[0] == grid[1] and pixel_mm[0] == pixel_mm[1])


@lru_cache(maxsize=2)
def _system_matrices(geometry: ScanGeometry, grid: tuple[int, int], pixel_mm: tuple[float, float], quarters: int):
    """(fan matrix of the stored views of :func:`_symmetry`, transposed parallel matrix of the first
    2/quarters of the parallel views, rebinning matrix) as torch CSR tensors; kept in memory
    for the last two grids and on disk (``LOWDOSE_MATRIX_CACHE`` folder, "off" to disable)."""
    return tuple(_to_torch_csr(m) for m in _load_or_build(geometry, grid, pixel_mm, quarters))


def _build_matrices(geometry: ScanGeometry, grid, pixel_mm, quarters) -> tuple[sp.csr_matrix, ...]:
    """Line matrices (:mod:`.line_matrix`) of the stored fan views and of the parallel views FBP backprojects."""
    columns = geometry.detector_columns
    stored_views = _symmetry(geometry, grid, pixel_mm).stored_views
    fan = ray_pixel_lengths(*fan_beam_rays(geometry.source_isocenter_mm, geometry.source_detector_mm,
                                           geometry.detector_column_mm, columns, geometry.angles_rad[stored_views]),
                            grid, pixel_mm)
    parallel_views = geometry.n_views // 2
    theta = np.arange(parallel_views // max(1, quarters // 2)) * np.pi / parallel_views
    ds = geometry.detector_column_mm / geometry.magnification
    parallel = ray_pixel_lengths(*parallel_beam_rays(theta, columns, ds), grid, pixel_mm)
    return fan, parallel.T.tocsr(), _rebinning_matrix(geometry, parallel_views)


def _rebinning_matrix(geometry: ScanGeometry, parallel_views: int) -> sp.csr_matrix:
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
