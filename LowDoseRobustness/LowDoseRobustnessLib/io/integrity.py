"""Is an image file whole? Checks of what a reader is about to read, done before it reads it.

ITK's readers accept a ``.nii.gz`` cut short (the missing slices come back as 0) and a
corrupt compressed MetaImage; GDCM silently drops an unreadable file from a DICOM series.
Here the image data are counted against the header's own size (dimensions x bytes per
voxel), compressed data are decompressed in full (gzip CRC-32 and length, zlib Adler-32),
and a DICOM series must have evenly spaced slices and no unreadable member. Any failure is
an :class:`InputError` naming the file.
"""
from __future__ import annotations

import bz2
import gzip
import math
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from LowDoseRobustnessLib.errors import InputError

CHUNK_BYTES = 1 << 20
SLICE_GAP_TOLERANCE = 0.1
"""A DICOM slice step more than 10 % off the median step means a missing (or extra) slice."""


def verify_image_file(path: str | Path) -> int:
    """Refuse a NIfTI, NRRD or MetaImage file whose image data are incomplete or corrupt.

    Returns how many NaN/inf voxels ITK's reader will hide (it makes those of NIfTI files 0):
    read them with :func:`nifti_float_voxels` instead.
    """
    path = Path(path)
    name = path.name.lower()
    try:
        if name.endswith((".nii", ".nii.gz")):
            return _verify_nifti(path)
        if name.endswith((".nrrd", ".nhdr")):
            _verify_nrrd(path)
        elif name.endswith((".mha", ".mhd")):
            _verify_metaimage(path)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError, ValueError) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(f"{path} is truncated or corrupt ({_reason(error)}); it cannot be read safely") from None
    return 0


def _reason(error: Exception) -> str:
    if isinstance(error, EOFError):
        return "the compressed data end early"
    if isinstance(error, gzip.BadGzipFile):
        return f"gzip check failed: {error}"
    return str(error) or type(error).__name__


def _short(path: Path, found: int, expected: int) -> InputError:
    return InputError(f"{path} is truncated: it holds {found:,} of the {expected:,} bytes its header announces "
                      "(an interrupted write or copy?); it cannot be read safely")


# --- NIfTI-1/2: a fixed binary header, data from vox_offset; .nii.gz is the whole file gzipped --------------
_NIFTI_FLOATS = {16: "f4", 64: "f8"}
"""NIfTI datatype codes of float voxels, whose NaN/inf ITK's NIfTI reader silently turns into 0."""


@dataclass(frozen=True)
class _NiftiLayout:
    offset: int
    data_bytes: int
    shape_xyz: tuple[int, ...]
    float_dtype: Optional[np.dtype]
    slope: float
    intercept: float


def _nifti_layout(header: bytes, path: Path) -> _NiftiLayout:
    """Where the data are and what they are, from a NIfTI-1 or NIfTI-2 header; refuses voxel sizes <= 0."""
    for order in "<>":
        if len(header) >= 348 and struct.unpack(order + "i", header[:4])[0] == 348:
            dims = struct.unpack(order + "8h", header[40:56])
            code, bits = struct.unpack(order + "2h", header[70:74])
            voxel_mm = struct.unpack(order + "8f", header[76:108])
            offset = int(struct.unpack(order + "f", header[108:112])[0])
            slope, intercept = struct.unpack(order + "2f", header[112:120])
            break
        if len(header) >= 540 and struct.unpack(order + "i", header[:4])[0] == 540:
            code, bits = struct.unpack(order + "2h", header[12:16])
            dims = struct.unpack(order + "8q", header[16:80])
            voxel_mm = struct.unpack(order + "8d", header[104:168])
            offset, slope, intercept = struct.unpack(order + "q2d", header[168:192])
            break
    else:
        raise InputError(f"{path} has no valid NIfTI header; is it a NIfTI file?")
    if not 1 <= dims[0] <= 7 or bits <= 0:
        raise InputError(f"{path} has an invalid NIfTI header (dimensions {dims[0]}, {bits} bits per voxel)")
    sizes = voxel_mm[1:1 + min(dims[0], 3)]
    if not all(math.isfinite(s) and s > 0 for s in sizes):
        raise InputError(f"{path}: its header gives voxel sizes of {', '.join(f'{s:g}' for s in sizes)} mm; "
                         "they must be positive (a zero or negative spacing is a broken header)")
    shape = tuple(max(int(d), 1) for d in dims[1:1 + dims[0]])
    dtype = np.dtype(order + _NIFTI_FLOATS[code]) if code in _NIFTI_FLOATS else None
    return _NiftiLayout(offset, math.prod(shape) * bits // 8, shape, dtype, slope, intercept)


def _verify_nifti(path: Path) -> int:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as stream:
        header = stream.read(540)
        layout = _nifti_layout(header, path)
        if layout.offset == 0:  # a .hdr/.img pair: the data are elsewhere
            return 0
        stream.read(max(layout.offset - len(header), 0))  # header extensions
        found, nonfinite = _scan(stream, header[layout.offset:], layout.float_dtype)
    if found < layout.data_bytes:
        raise _short(path, found, layout.data_bytes)
    return nonfinite


def _scan(stream, start: bytes, dtype: Optional[np.dtype]) -> tuple[int, int]:
    """(bytes, non-finite values of ``dtype``) of ``start`` and the rest of ``stream``."""
    total, nonfinite, carry = 0, 0, b""
    chunk = start or stream.read(CHUNK_BYTES)
    while chunk:
        total += len(chunk)
        if dtype is not None:
            data = carry + chunk
            usable = len(data) - len(data) % dtype.itemsize
            nonfinite += int(np.count_nonzero(~np.isfinite(np.frombuffer(data[:usable], dtype))))
            carry = data[usable:]
        chunk = stream.read(CHUNK_BYTES)
    return total, nonfinite


def nifti_float_voxels(path: str | Path) -> np.ndarray:
    """The voxels of a float NIfTI as stored, indexed [z, y, x], NaN and inf kept (ITK's reader makes them 0)."""
    path = Path(path)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as stream:
        data = stream.read()
    layout = _nifti_layout(data[:540], path)
    voxels = np.frombuffer(data, layout.float_dtype, math.prod(layout.shape_xyz), layout.offset)
    voxels = voxels.reshape(layout.shape_xyz[::-1]).squeeze(axis=tuple(range(len(layout.shape_xyz) - 3)))
    if layout.slope not in (0.0, 1.0) or layout.intercept != 0.0:
        voxels = voxels * layout.slope + layout.intercept
    return voxels.astype(voxels.dtype.newbyteorder("="))


# --- NRRD: text header, blank line, data (raw, gzip, bzip2; or in a detached file) ---------------------------
_NRRD_BYTES = ((("longlong", "int64", "double"), 8), (("short", "int16"), 2), (("char", "int8"), 1),
               (("int", "float"), 4))


_FIELD = re.compile(r"\s*([^:=#]+?)\s*(?::=|:|=)\s*(.*)$")


def _text_header(path: Path, ends_at) -> tuple[dict[str, str], int]:
    """Fields of a text header (``key: value`` or ``key = value``, keys lower-case) and the byte offset after it."""
    fields, offset = {}, 0
    with open(path, "rb") as stream:
        for raw_line in stream:
            offset += len(raw_line)
            line = raw_line.decode("latin-1").strip()
            field = _FIELD.match(line)
            if field:
                fields[field[1].lower()] = field[2].strip()
            if ends_at(line, fields):
                break
    return fields, offset


def _verify_nrrd(path: Path) -> None:
    fields, offset = _text_header(path, lambda line, fields: line == "" and bool(fields))
    sizes, kind = fields.get("sizes", ""), fields.get("type", "").lower()
    element = next((size for names, size in _NRRD_BYTES if any(n in kind for n in names)), None)
    if not sizes or element is None:
        return  # not a header we know how to count; ITK reports what it cannot read
    data_bytes = math.prod(int(s) for s in sizes.split()) * element
    data_file = fields.get("data file") or fields.get("datafile")
    source, start = (path.parent / data_file, 0) if data_file else (path, offset)
    if data_file and not source.is_file():
        raise InputError(f"{path} names the data file {data_file}, which is missing")
    encoding = fields.get("encoding", "raw").lower()
    _verify_data(path, source, start, data_bytes, {"raw": None, "gzip": _gunzip, "gz": _gunzip,
                                                   "bzip2": bz2.BZ2File, "bz2": bz2.BZ2File}.get(encoding, "skip"))


# --- MetaImage: text header up to ElementDataFile, then data (raw or zlib) ------------------------------------
_MET_BYTES = {"MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4, "MET_UINT": 4,
              "MET_LONG": 4, "MET_ULONG": 4, "MET_FLOAT": 4, "MET_LONG_LONG": 8, "MET_ULONG_LONG": 8,
              "MET_DOUBLE": 8}


def _verify_metaimage(path: Path) -> None:
    fields, offset = _text_header(path, lambda line, fields: "elementdatafile" in fields)
    element = _MET_BYTES.get(fields.get("elementtype", "").upper())
    if "dimsize" not in fields or element is None:
        return
    channels = int(fields.get("elementnumberofchannels", "1"))
    data_bytes = math.prod(int(s) for s in fields["dimsize"].split()) * element * channels
    data_file = fields.get("elementdatafile", "LOCAL")
    source, start = (path, offset) if data_file.upper() == "LOCAL" else (path.parent / data_file, 0)
    if not source.is_file():
        raise InputError(f"{path} names the data file {data_file}, which is missing")
    compressed = fields.get("compresseddata", "false").lower() == "true"
    _verify_data(path, source, start, data_bytes, _ZlibReader if compressed else None)


def _gunzip(stream) -> gzip.GzipFile:
    return gzip.GzipFile(fileobj=stream)


class _ZlibReader:
    """A file-like reader of one zlib stream that raises when the stream ends early or fails its Adler-32 check."""

    def __init__(self, fileobj):
        self.fileobj, self.inflater = fileobj, zlib.decompressobj()

    def read(self, size: int) -> bytes:
        while not self.inflater.eof:
            compressed = self.fileobj.read(CHUNK_BYTES)
            if not compressed:
                raise EOFError
            data = self.inflater.decompress(compressed)
            if data:
                return data
        return b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _verify_data(path: Path, source: Path, start: int, data_bytes: int, decompressor) -> None:
    """Count the data bytes of ``source`` from ``start``, through ``decompressor`` when compressed."""
    if decompressor == "skip":
        return
    with open(source, "rb") as stream:
        stream.seek(start)
        if decompressor is None:
            found = _scan(stream, b"", None)[0]
        else:
            with decompressor(stream) as decompressed:
                found = _scan(decompressed, b"", None)[0]
    if found < data_bytes:
        raise _short(path, found, data_bytes)


# --- DICOM series -----------------------------------------------------------------------------------------------
def verify_slice_positions(folder: Path, positions_mm: list[float]) -> None:
    """Refuse a series whose slices (positions along their normal, mm) are not evenly spaced."""
    if len(positions_mm) < 3:
        return
    ordered = sorted(positions_mm)
    steps = [b - a for a, b in zip(ordered, ordered[1:])]
    median = sorted(steps)[len(steps) // 2]
    worst = max(range(len(steps)), key=lambda i: abs(steps[i] - median))
    if median <= 0 or abs(steps[worst] - median) > SLICE_GAP_TOLERANCE * median:
        raise InputError(f"the DICOM series in {folder} is not evenly spaced: {steps[worst]:.2f} mm between slices "
                         f"{worst} and {worst + 1} where the others are {median:.2f} mm apart "
                         "(a missing, duplicate or unreadable slice file?)")
