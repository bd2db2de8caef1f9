"""Numerical phantoms for validation: a water cylinder with tissue inserts, in HU."""
from __future__ import annotations

import numpy as np

from LowDoseRobustnessLib.volume import Volume

DEFAULT_INSERTS_HU = {"fat": -100.0, "liver": 60.0, "bone": 700.0, "lung": -800.0, "muscle": 40.0}


def water_cylinder(shape: tuple[int, int, int] = (32, 128, 128), spacing_mm: float = 2.0, radius_mm: float = 110.0,
                   insert_radius_mm: float = 20.0, inserts_hu: dict[str, float] = DEFAULT_INSERTS_HU,
                   slice_spacing_mm: float = 2.0) -> tuple[Volume, dict[str, np.ndarray]]:
    """A water cylinder (0 HU) in air along z with circular inserts on a ring at half its radius.

    Returns the volume and boolean ROI masks ``[z, y, x]``: one per insert and "water"
    (a disc at the centre), each shrunk by 2 mm so edges do not enter noise estimates.
    """
    nz, ny, nx = shape
    y, x = np.mgrid[:ny, :nx].astype(np.float32)
    y = (y - (ny - 1) / 2) * spacing_mm
    x = (x - (nx - 1) / 2) * spacing_mm
    image = np.where(x ** 2 + y ** 2 <= radius_mm ** 2, 0.0, -1000.0).astype(np.float32)
    rois = {}
    centres = {"water": (0.0, 0.0)}
    for k, name in enumerate(inserts_hu):
        angle = 2 * np.pi * k / len(inserts_hu)
        centres[name] = (0.5 * radius_mm * np.cos(angle), 0.5 * radius_mm * np.sin(angle))
    for name, (cx, cy) in centres.items():
        distance = np.hypot(x - cx, y - cy)
        if name != "water":
            image[distance <= insert_radius_mm] = inserts_hu[name]
        rois[name] = np.broadcast_to(distance <= insert_radius_mm - 2.0, shape)
    volume = Volume(np.repeat(image[None], nz, axis=0), (spacing_mm, spacing_mm, slice_spacing_mm))
    return volume, rois


def body_ellipse(shape: tuple[int, int, int] = (16, 128, 128), spacing_mm: float = 3.0,
                 semi_axes_mm: tuple[float, float] = (175.0, 125.0), bone_hu: float = 700.0,
                 slice_spacing_mm: float = 3.0) -> Volume:
    """A body-sized water ellipse (350 x 250 mm by default) in air along z, with a 40 mm bone rod off-centre."""
    nz, ny, nx = shape
    y, x = (np.mgrid[:ny, :nx].astype(np.float32) - np.array([(ny - 1) / 2, (nx - 1) / 2])[:, None, None]) * spacing_mm
    image = np.where((x / semi_axes_mm[0]) ** 2 + (y / semi_axes_mm[1]) ** 2 <= 1.0, 0.0, -1000.0).astype(np.float32)
    image[np.hypot(x - 0.35 * semi_axes_mm[0], y - 0.25 * semi_axes_mm[1]) <= 20.0] = bone_hu
    return Volume(np.repeat(image[None], nz, axis=0), (spacing_mm, spacing_mm, slice_spacing_mm))
