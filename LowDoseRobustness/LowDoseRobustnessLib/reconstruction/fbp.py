"""Filtered backprojection (FBP per slice in fan mode, FDK for cone beams) through the projector."""
from __future__ import annotations

import numpy as np

from LowDoseRobustnessLib.reconstruction.filters import FilterSpec


def reconstruct_fbp(line_integrals: np.ndarray, projector, counts: np.ndarray | None = None,
                    filter_name: FilterSpec = "ram-lak") -> np.ndarray:
    """Analytic reconstruction with the band-limited ramp and window ``filter_name``; ``counts`` are not used."""
    return projector.reconstruct_fbp(line_integrals, filter_name=filter_name)


reconstruct_fbp.uses_counts = False
reconstruct_fbp.after_fbp = None
