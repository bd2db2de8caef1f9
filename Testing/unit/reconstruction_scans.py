"""Simulated scans shared by the reconstruction tests and benchmarks: a phantom (:mod:`phantoms`) or a
crop of the real example CT, each with its noise-free ("full dose") and d = 0.2 projections."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import binary_erosion

from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu, mu_to_hu
from LowDoseRobustnessLib.simulation.dose import line_integral_noise, mean_counts
from LowDoseRobustnessLib.io.volumes import read_volume
from LowDoseRobustnessLib.contract import DEFAULT_INCIDENT_FLUX
from LowDoseRobustnessLib.simulation.simulate import SimulationSettings, make_projector
from LowDoseRobustnessLib.volume import Volume

from shared_data import EXAMPLES

LOW_DOSE = 0.2


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


def real_ct_volume() -> tuple[Volume, dict]:
    """Every third slice of example_ct_sm (held out from the CNN's training), eroded liver and spleen ROIs."""
    ct = read_volume(EXAMPLES / "example_ct_sm.nii.gz")
    labels = read_volume(EXAMPLES / "example_seg.nii.gz").array[::3]
    rois = {organ: binary_erosion(labels == label, np.ones((1, 5, 5))) for organ, label in (("liver", 5), ("spleen", 1))}
    return Volume(np.ascontiguousarray(ct.array[::3]), ct.spacing), rois


def simulate_scan(volume: Volume, rois: dict, seed: int = 7, backend: str = "auto", geometry: str = "fast") -> Scan:
    """Projections at full dose (noise-free reprojection) and of an acquisition at d = 0.2 (the simulator's noise)."""
    projector = make_projector(volume, SimulationSettings(geometry=geometry, backend=backend))
    full = projector.forward_project(hu_to_mu(volume.array))
    low = full + line_integral_noise(full, LOW_DOSE * DEFAULT_INCIDENT_FLUX, np.random.default_rng(seed))
    counts = LOW_DOSE * mean_counts(full, DEFAULT_INCIDENT_FLUX)
    return Scan(volume, projector, full, low, counts, rois, mu_to_hu(projector.reconstruct_fbp(full)))


