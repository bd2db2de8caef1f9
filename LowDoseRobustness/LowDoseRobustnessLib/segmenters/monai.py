"""MONAI networks (UNet, SegResNet, UNETR, SwinUNETR) from a checkpoint plus a small JSON/YAML config.

Config schema (paths relative to the config file)::

    {
      "network": {"name": "SwinUNETR", "kwargs": {"in_channels": 1, "out_channels": 14, "feature_size": 48}},
      "checkpoint": "model.pt",           # a state dict, or a dict holding it under "state_dict" or "model"
      "windows_hu": [[-175, 250]],        # one input channel per window: HU clipped to [low, high] -> [0, 1]
      "spacing_mm": [1.5, 1.5, 2.0],      # (x, y, z) working voxel size; null keeps the input's
      "orientation": "RAS",               # SimpleITK DICOMOrient code; tensors are [C, x, y, z] as MONAI loads NIfTI
      "roi_size": [96, 96, 96],           # sliding-window patch (x, y, z) in voxels
      "sw_batch_size": 1, "overlap": 0.25,
      "labels": {"1": "spleen", "2": "kidney_right"}
    }
"""
from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk
import torch

from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.json_files import read_json

from LowDoseRobustnessLib.volume import Volume
from LowDoseRobustnessLib.segmenters.base import Progress, Segmentation, report, torch_device
from LowDoseRobustnessLib.segmenters.intensity import window_channels
from LowDoseRobustnessLib.segmenters.resample import labels_to_input_grid, to_model_grid

NETWORKS = ("UNet", "SegResNet", "UNETR", "SwinUNETR")
REQUIRED_KEYS = ("network", "checkpoint", "windows_hu", "roi_size", "labels")


def read_config(path: str | Path) -> dict:
    """The config as a dict, checked for the required keys; ``checkpoint`` made absolute."""
    path = Path(path)
    if path.suffix in (".yaml", ".yml"):
        import yaml

        if not path.is_file():
            raise InputError(f"MONAI model config not found: {path}")
        try:
            config = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            raise InputError(f"MONAI model config {path} is not valid YAML ({str(error).splitlines()[0]})") from None
    else:
        config = read_json(path, "MONAI model config")
    if not isinstance(config, dict):
        raise InputError(f"MONAI model config {path} must hold a mapping of keys {', '.join(REQUIRED_KEYS)}")
    missing = [key for key in REQUIRED_KEYS if key not in config]
    if missing:
        raise InputError(f"MONAI model config {path} lacks {', '.join(missing)} (see the schema in segmenters/monai.py)")
    if not isinstance(config["network"], dict) or config["network"].get("name") not in NETWORKS:
        raise InputError(f"network {config['network']!r} in {path}: choose one of {', '.join(NETWORKS)}")
    config["checkpoint"] = path.parent / config["checkpoint"]
    return config


def build_network(network: dict) -> torch.nn.Module:
    """A MONAI network from ``{"name": ..., "kwargs": {...}}`` (kwargs as in MONAI's constructor)."""
    import monai.networks.nets as nets

    try:
        return getattr(nets, network["name"])(**network.get("kwargs", {}))
    except TypeError as error:
        raise InputError(f"cannot build MONAI {network['name']}: {error}") from None


def load_weights(network: torch.nn.Module, checkpoint: Path) -> torch.nn.Module:
    """The network in eval mode with the checkpoint's weights."""
    if not checkpoint.is_file():
        raise InputError(f"MONAI checkpoint not found: {checkpoint}")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state.get("model", state))
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        raise InputError(f"checkpoint {checkpoint} does not fit the configured network: {str(error)[:500]}") from None
    return network.eval()


class MonaiSegmenter:
    """Sliding-window inference (``monai.inferers.sliding_window_inference``, Gaussian blending)."""

    def __init__(self, config_path: str | Path, device: str = "cpu"):
        self.config = read_config(config_path)
        self.device = torch_device(device)
        self.network = load_weights(build_network(self.config["network"]), self.config["checkpoint"]).to(self.device)
        self.names = {int(value): name for value, name in self.config["labels"].items()}

    def segment(self, volume: Volume, progress: Progress | None = None) -> Segmentation:
        from monai.inferers import sliding_window_inference

        config = self.config
        report(progress, 0.0, "resampling to the model grid")
        spacing = config.get("spacing_mm")
        image = to_model_grid(volume, tuple(spacing) if spacing else None, orientation=config.get("orientation", "RAS"))
        channels = window_channels(sitk.GetArrayFromImage(image), [tuple(w) for w in config["windows_hu"]])
        x = torch.from_numpy(channels.transpose(0, 3, 2, 1).copy())[None].to(self.device)  # [1, C, x, y, z]
        report(progress, 0.1, f"sliding-window inference with {config['network']['name']}")
        with torch.inference_mode():
            logits = sliding_window_inference(x, tuple(config["roi_size"]), config.get("sw_batch_size", 1),
                                              self.network, overlap=config.get("overlap", 0.25), mode="gaussian")
        labels = logits[0].argmax(0).cpu().numpy().transpose(2, 1, 0)  # back to [z, y, x]
        report(progress, 0.9, "resampling labels to the input grid")
        segmentation = Segmentation(labels_to_input_grid(labels, image, volume), dict(self.names))
        report(progress, 1.0, "done")
        return segmentation

    def label_groups(self) -> dict[str, list[int]]:
        return {"all": sorted(self.names)}
