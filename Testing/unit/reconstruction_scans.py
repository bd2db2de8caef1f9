"""Simulated scans shared by the reconstruction tests and benchmarks: a water phantom with inserts and a
crop of the real example CT, each with its noise-free ("full dose") and d = 0.2 projections."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import binary_erosion

from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu, mu_to_hu
from LowDoseRobustnessLib.simulation.dose import additional_line_integral_sd, mean_counts
from LowDoseRobustnessLib.io.volumes import read_volume
from LowDoseRobustnessLib.contract import DEFAULT_INCIDENT_FLUX
from LowDoseRobustnessLib.simulation.simulate import SimulationSettings, make_projector
from LowDoseRobustnessLib.volume import Volume

from shared_data import EXAMPLES
LOW_DOSE = 0.2
PHANTOM_INSERTS_HU = {"liver-like": (-50.0, 0.0, 60.0), "fat": (50.0, 0.0, -100.0), "soft": (0.0, -50.0, 40.0)}
"""Insert name -> (x mm, y mm, HU); radius 15 mm each, in a 0 HU water disc of radius 102 mm, plus a bone rod."""
PHANTOM_TRUTH_HU = {"water": 0.0, **{name: hu for name, (_, _, hu) in PHANTOM_INSERTS_HU.items()}}


@dataclass
class Scan:
    """One simulated acquisition: projector, full-dose and d = 0.2 projections, counts, ROIs, reference HU."""

    volume: Volume
    projector: object
    full_dose: np.ndarray
    low_dose: np.ndarray
    counts: np.ndarray
    rois: dict
    reference_hu: np.ndarray

    def hu(self, mu: np.ndarray) -> np.ndarray:
        return mu_to_hu(mu)


def water_phantom(size: int = 128, slices: int = 3, pixel_mm: float = 2.0) -> tuple[Volume, dict]:
    """A water cylinder with soft-tissue, fat and bone inserts, and 10 x 10 mm ROIs in the inserts and the water."""
    y, x = (np.mgrid[:size, :size] - (size - 1) / 2) * pixel_mm
    hu = np.full((size, size), -1000.0, np.float32)
    hu[x ** 2 + y ** 2 < (0.4 * size * pixel_mm) ** 2] = 0.0
    hu[x ** 2 + (y - 50) ** 2 < 10 ** 2] = 1000.0
    rois = {"water": (np.abs(x + 50) < 8) & (np.abs(y + 50) < 8)}
    for name, (cx, cy, value) in PHANTOM_INSERTS_HU.items():
        hu[(x - cx) ** 2 + (y - cy) ** 2 < 15 ** 2] = value
        rois[name] = (np.abs(x - cx) < 7) & (np.abs(y - cy) < 7)
    return Volume(np.repeat(hu[None], slices, 0), (pixel_mm, pixel_mm, 3.0)), {
        name: np.repeat(mask[None], slices, 0) for name, mask in rois.items()}


def real_ct_volume() -> tuple[Volume, dict]:
    """Every third slice of example_ct_sm (held out from the CNN's training), eroded liver and spleen ROIs."""
    ct = read_volume(EXAMPLES / "example_ct_sm.nii.gz")
    labels = read_volume(EXAMPLES / "example_seg.nii.gz").array[::3]
    rois = {organ: binary_erosion(labels == label, np.ones((1, 5, 5))) for organ, label in (("liver", 5), ("spleen", 1))}
    return Volume(np.ascontiguousarray(ct.array[::3]), ct.spacing), rois


def simulate_scan(volume: Volume, rois: dict, seed: int = 7, backend: str = "auto", geometry: str = "fast") -> Scan:
    """Projections at full dose (noise-free reprojection) and at d = 0.2 (simulate.py's noise model)."""
    projector = make_projector(volume, SimulationSettings(geometry=geometry, backend=backend))
    full = projector.forward_project(hu_to_mu(volume.array))
    sd = additional_line_integral_sd(full, DEFAULT_INCIDENT_FLUX, LOW_DOSE)
    low = full + sd * np.random.default_rng(seed).standard_normal(sd.shape, dtype=np.float32)
    counts = LOW_DOSE * mean_counts(full, DEFAULT_INCIDENT_FLUX)
    return Scan(volume, projector, full, low, counts, rois, mu_to_hu(projector.reconstruct_fbp(full)))


