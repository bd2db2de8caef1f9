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


BODY_SEMI_AXES_MM = (175.0, 125.0)
BONE_HU = 1000.0


def body_ellipse(slices: int = 32, size: int = 256, pixel_mm: float = 1.5, bones: bool = False,
                 slice_mm: float = 3.0, supersampling: int = 4) -> tuple[Volume, dict[str, np.ndarray]]:
    """A body-sized water ellipse (350 x 250 mm, 0 HU) in air, uniform along z; edges area-sampled.

    ``bones``: two rods of 1000 HU, 30 mm across, 110 mm left and right of the centre (lateral rays
    through both see the fewest photons). Regions ``[y, x]``, from rho = sqrt((x/a)^2 + (y/b)^2):
    ``centre`` rho < 0.15, ``interior`` rho < 0.9, ``edge`` 0.75 < rho < 0.9, and with bones
    ``next to bone``: water between 20 and 30 mm from a rod's centre.
    """
    a, b = BODY_SEMI_AXES_MM
    offsets = (np.arange(supersampling) + 0.5) / supersampling - 0.5
    inside = np.zeros((size, size))
    bone = np.zeros((size, size))
    for dy in offsets:
        for dx in offsets:
            y, x = (np.mgrid[:size, :size] - (size - 1) / 2 + np.array([dy, dx])[:, None, None]) * pixel_mm
            inside += (x / a) ** 2 + (y / b) ** 2 <= 1
            bone += sum(((x - cx) ** 2 + y ** 2 <= 15.0 ** 2) for cx in (-110.0, 110.0))
    inside, bone = inside / supersampling ** 2, bone / supersampling ** 2
    hu = -1000.0 + 1000.0 * inside + (BONE_HU * bone if bones else 0.0)
    y, x = (np.mgrid[:size, :size] - (size - 1) / 2) * pixel_mm
    rho = np.sqrt((x / a) ** 2 + (y / b) ** 2)
    regions = {"centre": rho < 0.15, "interior": rho < 0.9, "edge": (rho > 0.75) & (rho < 0.9)}
    if bones:
        distance = np.minimum(np.hypot(x - 110.0, y), np.hypot(x + 110.0, y))
        regions["next to bone"] = (distance > 20.0) & (distance < 30.0)
    volume = Volume(np.repeat(hu.astype(np.float32)[None], slices, axis=0), (pixel_mm, pixel_mm, slice_mm))
    return volume, regions
