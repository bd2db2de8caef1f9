"""Per-slice fan-beam projector on the CPU from astra-toolbox's 2D system matrix.

In fan mode every slice sees the same projection operator, so it is built once
per geometry as a sparse matrix (ASTRA's ``line_fanflat`` ray model, lengths in mm)
and applied to all slices at once (a sparse x dense product over the slice axis).
A square pixel grid turned by 90 degrees maps onto itself, so only the views of
the first 90 degrees are stored; the other views project the rotated image
(``np.rot90``), which cuts memory and build time by four.

Reconstruction rebins the fan data to parallel beams and backprojects pixel-driven
(:mod:`.rebinned_fbp`). Only ASTRA's 2D CPU code is called (its 3D code needs CUDA
and aborts the process without it).
"""
from __future__ import annotations

import hashlib
import math
import os
import shutil
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from LowDoseRobustnessLib.projection.geometry import ScanGeometry
from LowDoseRobustnessLib.projection.rebinned_fbp import rebinned_fbp
from LowDoseRobustnessLib.projection.sparse import to_torch_csr
from LowDoseRobustnessLib.reconstruction.filters import FilterSpec
from LowDoseRobustnessLib.errors import InputError

FORWARD_SLICES_PER_CHUNK = 8
BACKWARD_SLICES_PER_CHUNK = 16
"""Slices per sparse product: small enough that the slice block stays in cache (measured best on 2 cores)."""
CACHE_FORMAT = 3
MATRIX_NAMES = ("fan",)
CSR_PARTS = ("data", "indices", "indptr")


def _cache_folder(geometry: ScanGeometry, grid, pixel_mm, quarters) -> Path | None:
    """Where the matrices of this geometry and grid are kept between runs (None: caching off)."""
    import astra

    folder = os.environ.get("LOWDOSE_MATRIX_CACHE", str(Path.home() / ".cache" / "lowdose-robustness"))
    if folder in ("", "0", "off"):
        return None
    key = repr((geometry, grid, pixel_mm, quarters, astra.__version__, CACHE_FORMAT))
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


def _astra_matrix(projection_geometry: dict, volume_geometry: dict, kernel: str) -> sp.csr_matrix:
    import astra

    projector_id = astra.create_projector(kernel, projection_geometry, volume_geometry)
    matrix_id = astra.projector.matrix(projector_id)
    try:
        return astra.matrix.get(matrix_id).astype(np.float32).tocsr()
    finally:
        astra.matrix.delete(matrix_id)
        astra.projector.delete(projector_id)


class AstraFanBeamProjector:
    """Fan beam per slice, CPU, system matrix from astra-toolbox (2D)."""

    name = "astra"
    device = "cpu"
    modes = ("fan",)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import astra  # noqa: F401
        except ImportError:
            return "the astra-toolbox package is not installed (pip install astra-toolbox)"
        return None

    def __init__(self, geometry: ScanGeometry, volume_shape, spacing_mm):
        if geometry.mode != "fan":
            raise InputError("the astra CPU backend projects fan beams per slice; use mbirjax or tigre for cone beams")
        nz, ny, nx = volume_shape
        sx, sy, _ = spacing_mm
        geometry.check_covers(volume_shape, spacing_mm)
        self.geometry = geometry
        self.volume_shape = (nz, ny, nx)
        self.square = math.isclose(sx, sy, rel_tol=1e-4) and geometry.n_views % 4 == 0
        self.grid = (max(nx, ny),) * 2 if self.square else (ny, nx)
        self.pixel_mm = (sx, sy)
        self.quarters = 4 if self.square else 1
        self._fan, = _system_matrices(geometry, self.grid, (round(sx, 6), round(sy, 6)), self.quarters)

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
        projections = np.asarray(line_integrals, dtype=np.float32)
        expected = (self.geometry.n_views, self.volume_shape[0], self.geometry.detector_columns)
        if projections.shape != expected:
            raise InputError(f"projections of shape {projections.shape} do not match the geometry {expected}")
        return projections

    # -- protocol ------------------------------------------------------------------
    def forward_project(self, mu_per_mm: np.ndarray) -> np.ndarray:
        """Line integrals ``[view, slice, column]``: sum over rays of mu (1/mm) x length (mm)."""
        mu = np.asarray(mu_per_mm, dtype=np.float32)
        if mu.shape != self.volume_shape:
            raise InputError(f"volume shape {mu.shape} differs from the projector's grid {self.volume_shape}")
        views, columns = self.geometry.n_views, self.geometry.detector_columns
        out = np.empty((views, mu.shape[0], columns), np.float32)
        per_quarter = views // self.quarters
        for start in range(0, mu.shape[0], FORWARD_SLICES_PER_CHUNK):
            chunk = self._pad(mu[start:start + FORWARD_SLICES_PER_CHUNK])
            for quarter in range(self.quarters):
                rotated = np.rot90(chunk, -quarter, axes=(1, 2)).reshape(chunk.shape[0], -1)
                sino = self._fan @ torch.from_numpy(np.ascontiguousarray(rotated.T))
                out[quarter * per_quarter:(quarter + 1) * per_quarter, start:start + chunk.shape[0]] = (
                    sino.numpy().reshape(per_quarter, columns, -1).transpose(0, 2, 1))
        return out

    def back_project(self, line_integrals: np.ndarray) -> np.ndarray:
        """The exact adjoint of :meth:`forward_project`: ``[z, y, x]``, each ray's value times its path length (mm)."""
        projections = self._checked_projections(line_integrals)
        views = self.geometry.n_views
        gy, gx = self.grid
        per_quarter = views // self.quarters
        volume = np.empty(self.volume_shape, np.float32)
        for start in range(0, projections.shape[1], BACKWARD_SLICES_PER_CHUNK):
            chunk = projections[:, start:start + BACKWARD_SLICES_PER_CHUNK]
            nzc = chunk.shape[1]
            image = np.zeros((nzc, gy, gx), np.float32)
            for quarter in range(self.quarters):
                sino = chunk[quarter * per_quarter:(quarter + 1) * per_quarter].transpose(0, 2, 1).reshape(-1, nzc)
                back = (self._fan_transposed @ torch.from_numpy(np.ascontiguousarray(sino))).numpy()
                image += np.rot90(back.T.reshape(nzc, gy, gx), quarter, axes=(1, 2))
            volume[start:start + nzc] = self._crop(image)
        return volume

    @cached_property
    def _fan_transposed(self) -> torch.Tensor:
        """Transpose of the fan matrix, built on first use (only iterative reconstruction needs it)."""
        fan = self._fan
        matrix = sp.csr_matrix((fan.values().numpy(), fan.col_indices().numpy(), fan.crow_indices().numpy()),
                               shape=tuple(fan.shape))
        return to_torch_csr(matrix.T.tocsr())

    def reconstruct_fbp(self, line_integrals: np.ndarray, filter_name: FilterSpec = "ram-lak") -> np.ndarray:
        """Attenuation ``[z, y, x]`` in 1/mm: rebin to parallel, filter, backproject (:mod:`.rebinned_fbp`)."""
        return self._crop(rebinned_fbp(self._checked_projections(line_integrals), self.geometry, self.grid,
                                       self.pixel_mm, filter_name))


@lru_cache(maxsize=2)
def _system_matrices(geometry: ScanGeometry, grid: tuple[int, int], pixel_mm: tuple[float, float], quarters: int):
    """(fan matrix of the first 1/quarters of the views,) as a torch CSR tensor; kept in memory
    for the last two grids and on disk (``LOWDOSE_MATRIX_CACHE`` folder, "off" to disable)."""
    return tuple(to_torch_csr(m) for m in _load_or_build(geometry, grid, pixel_mm, quarters))


def _build_matrices(geometry: ScanGeometry, grid, pixel_mm, quarters) -> tuple[sp.csr_matrix, ...]:
    import astra

    gy, gx = grid
    sx, sy = pixel_mm
    volume_geometry = astra.create_vol_geom(gy, gx, -gx * sx / 2, gx * sx / 2, -gy * sy / 2, gy * sy / 2)
    sid, sdd = geometry.source_isocenter_mm, geometry.source_detector_mm
    pixel = geometry.detector_column_mm
    columns = geometry.detector_columns

    beta = geometry.angles_rad[: geometry.n_views // quarters]
    radial = np.stack([np.cos(beta), np.sin(beta)], 1)
    lateral = np.stack([-np.sin(beta), np.cos(beta)], 1)
    fan_vectors = np.hstack([sid * radial, -(sdd - sid) * radial, pixel * lateral])
    fan = _astra_matrix(astra.create_proj_geom("fanflat_vec", columns, fan_vectors), volume_geometry, "line_fanflat")

    return (fan,)
