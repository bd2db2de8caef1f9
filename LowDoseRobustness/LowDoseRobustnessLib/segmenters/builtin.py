"""The built-in segmenter: a small 3D U-Net shipped in ``Resources/Models/builtin`` (see its README)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from LowDoseRobustnessLib.contract import MODELS_FOLDER
from LowDoseRobustnessLib.errors import InputError

from LowDoseRobustnessLib.volume import Volume
from LowDoseRobustnessLib.segmenters.base import Progress, Segmentation, report
from LowDoseRobustnessLib.segmenters.builtin_net import TinyUNet3d
from LowDoseRobustnessLib.segmenters.intensity import window_channels
from LowDoseRobustnessLib.segmenters.resample import labels_to_input_grid, to_model_grid

DEFAULT_CHECKPOINT = MODELS_FOLDER / "builtin" / "builtin_unet.pt"


def save_checkpoint(path: str | Path, network: TinyUNet3d, config: dict) -> None:
    """Write network weights with the ``config`` (features, windows, spacing_mm, labels) needed to rebuild it."""
    torch.save({"config": config, "state_dict": network.state_dict()}, path)


def load_checkpoint(path: str | Path) -> tuple[TinyUNet3d, dict]:
    """The network in eval mode and its config."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"built-in model checkpoint not found: {path}; "
                         "recreate it with LowDoseRobustness/Scripts/train_builtin_model.py")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    config = checkpoint["config"]
    network = TinyUNet3d(len(config["windows"]), len(config["labels"]) + 1, tuple(config["features"]))
    network.load_state_dict(checkpoint["state_dict"])
    return network.eval(), config


def predict_labels(network: TinyUNet3d, channels: np.ndarray) -> np.ndarray:
    """Arg-max labels ``[z, y, x]`` of a whole volume ``channels[c, z, y, x]`` (padded to the network's divisor)."""
    divisor = network.size_divisor
    shape = channels.shape[1:]
    padding = [(0, 0)] + [(0, -n % divisor) for n in shape]
    x = torch.from_numpy(np.pad(channels, padding, mode="edge"))[None]
    with torch.inference_mode():
        labels = network(x)[0].argmax(0).numpy()
    return labels[: shape[0], : shape[1], : shape[2]].astype(np.uint8)


class BuiltinSegmenter:
    """Liver, spleen, kidneys and vertebrae with the built-in U-Net (CPU, whole volume at once)."""

    def __init__(self, checkpoint: str | Path | None = None):
        self.network, self.config = load_checkpoint(checkpoint or DEFAULT_CHECKPOINT)
        self.names = {int(value): name for value, name in self.config["labels"].items()}

    def segment(self, volume: Volume, progress: Progress | None = None) -> Segmentation:
        report(progress, 0.0, "resampling to the model grid")
        image = to_model_grid(volume, tuple(self.config["spacing_mm"]))
        channels = window_channels(sitk.GetArrayFromImage(image), [tuple(w) for w in self.config["windows"]])
        report(progress, 0.2, "running the built-in U-Net")
        labels = predict_labels(self.network, channels)
        report(progress, 0.9, "resampling labels to the input grid")
        segmentation = Segmentation(labels_to_input_grid(labels, image, volume), dict(self.names))
        report(progress, 1.0, "done")
        return segmentation

    def label_groups(self) -> dict[str, list[int]]:
        organs = [v for v, name in self.names.items() if name != "vertebrae"]
        return {"organs": organs, "vertebrae": [v for v in self.names if v not in organs]}
