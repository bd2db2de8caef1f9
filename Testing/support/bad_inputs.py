"""Broken files as users meet them (cut short, bit-flipped, bad headers) and folder snapshots, for the bad-input tests."""
from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import SimpleITK as sitk

NIFTI1_HEADER_BYTES, NIFTI1_VOX_OFFSET = 348, 352
NIFTI_INT16 = 4


def truncated_copy(source: Path, target: Path, fraction: float = 0.5) -> Path:
    """The first ``fraction`` of ``source``'s bytes: a file whose writer or copier was stopped."""
    data = Path(source).read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def corrupted_copy(source: Path, target: Path) -> Path:
    """``source`` with one byte in the middle inverted: bit rot or a bad transfer."""
    data = bytearray(Path(source).read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def header_only_nifti(target: Path, shape_zyx: tuple[int, int, int], spacing_mm: float = 1.0) -> Path:
    """A NIfTI-1 header announcing an int16 volume of ``shape_zyx`` with no voxel data (a few hundred bytes)."""
    header = bytearray(NIFTI1_VOX_OFFSET)
    struct.pack_into("<i", header, 0, NIFTI1_HEADER_BYTES)
    struct.pack_into("<8h", header, 40, 3, shape_zyx[2], shape_zyx[1], shape_zyx[0], 1, 1, 1, 1)
    struct.pack_into("<2h", header, 70, NIFTI_INT16, 16)
    struct.pack_into("<8f", header, 76, 1.0, spacing_mm, spacing_mm, spacing_mm, 1, 1, 1, 1)
    struct.pack_into("<f", header, 108, float(NIFTI1_VOX_OFFSET))
    struct.pack_into("<f", header, 112, 1.0)  # scl_slope
    header[344:348] = b"n+1\0"
    target.write_bytes(bytes(header))
    return target


def with_voxel_sizes(array: np.ndarray, target: Path, sizes_mm: tuple[float, float, float]) -> Path:
    """An uncompressed NIfTI of ``array`` whose header claims ``sizes_mm`` (x, y, z) as pixdim, e.g. zeros."""
    sitk.WriteImage(sitk.GetImageFromArray(array), str(target))
    data = bytearray(target.read_bytes())
    struct.pack_into("<3f", data, 80, *sizes_mm)
    target.write_bytes(bytes(data))
    return target


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-1 of every file below ``folder`` (hidden ones included)."""
    folder = Path(folder)
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}
