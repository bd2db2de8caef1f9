"""HU windows as network input channels."""
from __future__ import annotations

import numpy as np

HUWindow = tuple[float, float]


def window_channels(hu: np.ndarray, windows: list[HUWindow]) -> np.ndarray:
    """One float32 channel per ``(low, high)`` HU window, clipped and scaled to [0, 1]; shape ``(C, *hu.shape)``."""
    hu = np.asarray(hu, dtype=np.float32)
    return np.stack([(np.clip(hu, low, high) - low) / (high - low) for low, high in windows]).astype(np.float32)
