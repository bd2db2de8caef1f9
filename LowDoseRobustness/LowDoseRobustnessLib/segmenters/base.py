"""The segmenter protocol: a CT volume in, an integer label map with names out, on the input's grid."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from LowDoseRobustnessLib.io.labels import LabelNames
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume

Progress = Callable[[float, str], None]
"""Called with the finished fraction (0..1) and a short message."""


@dataclass(frozen=True)
class Segmentation:
    """An integer label map on the input grid and the names of its labels (0 = background, unnamed)."""

    label_map: Volume
    names: LabelNames

    def label_value(self, name: str) -> int:
        """The value of the label called ``name``."""
        for value, label_name in self.names.items():
            if label_name == name:
                return value
        raise InputError(f"no label named {name!r}; labels are {sorted(self.names.values())}")

    def mask(self, name: str) -> np.ndarray:
        """Boolean mask ``[z, y, x]`` of the label called ``name``."""
        return self.label_map.array == self.label_value(name)


class Segmenter(Protocol):
    """Anything that segments a CT volume in HU; implementations live in one module each (see registry)."""

    def segment(self, volume: Volume, progress: Progress | None = None) -> Segmentation:
        """Label map on ``volume``'s grid (nearest-neighbour resampled back) with its label names."""

    def label_groups(self) -> dict[str, list[int]]:
        """Named groups of label values for per-group evaluation (e.g. organs, vertebrae)."""


def report(progress: Progress | None, fraction: float, message: str) -> None:
    """Call ``progress`` when one was given."""
    if progress is not None:
        progress(fraction, message)


def torch_device(device: str):
    """A torch device from ``cpu``, ``cuda[:N]`` or TotalSegmentator's spelling ``gpu[:N]``."""
    import torch

    return torch.device(device.replace("gpu", "cuda"))
