"""A small residual encoder-decoder CNN (RED-CNN style, Chen et al. 2017) that denoises CT slices.

Five convolutions down, five (transposed) convolutions up, shortcuts adding each encoder
feature map to the decoder map of the same size and the input to the output, so the
network predicts the noise to remove. Unlike the original, two encoder layers have
stride 2 (the network works at 1/2 and 1/4 resolution), which makes a 512 x 512 slice
cheap on a CPU. Input and output are HU / 1000,
slice by slice (2D). Trained on our own simulator's full-dose / dose-d reconstruction
pairs (``Scripts/train_denoiser.py``; see ``Docs/reconstruction.md`` for the data).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from LowDoseRobustnessLib.contract import MODELS_FOLDER
from LowDoseRobustnessLib.errors import InputError

DEFAULT_CHECKPOINT = MODELS_FOLDER / "denoiser_redcnn.pt"
HU_SCALE = 1000.0
SLICES_PER_BATCH = 8


def _upsample(in_channels: int, out_channels: int) -> nn.Module:
    """Transposed 2 x 2 convolution with stride 2, as a 1 x 1 convolution and a pixel shuffle (fast on CPUs)."""
    return nn.Sequential(nn.Conv2d(in_channels, 4 * out_channels, 1), nn.PixelShuffle(2))


class RedCnn(nn.Module):
    """Residual encoder-decoder at 1/2 and 1/4 resolution; sizes must be multiples of 4 (:func:`denoise_slices`)."""

    def __init__(self, channels: tuple[int, int] = (32, 64)):
        super().__init__()
        c1, c2 = channels
        self.channels = tuple(channels)
        self.encoder = nn.ModuleList([nn.Conv2d(1, c1, 3, stride=2, padding=1), nn.Conv2d(c1, c1, 3, padding=1),
                                      nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.Conv2d(c2, c2, 3, padding=1),
                                      nn.Conv2d(c2, c2, 3, padding=1)])
        self.decoder = nn.ModuleList([nn.Conv2d(c2, c2, 3, padding=1), nn.Conv2d(c2, c2, 3, padding=1),
                                      _upsample(c2, c1), nn.Conv2d(c1, c1, 3, padding=1), _upsample(c1, 1)])

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features, out = [], image
        for layer in self.encoder:
            out = torch.relu(layer(out))
            features.append(out)
        for layer, shortcut in zip(self.decoder[:-1], features[-2::-1]):
            out = torch.relu(layer(out) + shortcut)
        return self.decoder[-1](out) + image


def load_network(checkpoint: str | Path = DEFAULT_CHECKPOINT) -> RedCnn:
    """The network with the weights saved by the training script."""
    path = Path(checkpoint)
    if not path.is_file():
        raise InputError(f"denoiser checkpoint {path} not found; train one with Scripts/train_denoiser.py")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    network = RedCnn(tuple(saved["channels"]))
    network.load_state_dict(saved["state_dict"])
    return network.eval()


def denoise_slices(network: RedCnn, hu_slices: np.ndarray) -> np.ndarray:
    """Run ``network`` on ``[z, y, x]`` HU slices (edge-padded to multiples of 4, then cropped)."""
    nz, ny, nx = hu_slices.shape
    padded = np.pad(np.asarray(hu_slices, np.float32) / HU_SCALE, ((0, 0), (0, -ny % 4), (0, -nx % 4)), mode="edge")
    out = np.empty_like(padded)
    with torch.inference_mode():
        for start in range(0, nz, SLICES_PER_BATCH):
            batch = torch.from_numpy(padded[start:start + SLICES_PER_BATCH, None])
            out[start:start + SLICES_PER_BATCH] = network(batch)[:, 0].numpy()
    return out[:, :ny, :nx] * HU_SCALE


class RedCnnDenoiser:
    """The shipped RED-CNN checkpoint (or another one) applied slice by slice."""

    name = "cnn"

    def __init__(self, checkpoint: str | Path = DEFAULT_CHECKPOINT):
        self.network = load_network(checkpoint)

    def denoise(self, hu_volume: np.ndarray) -> np.ndarray:
        return denoise_slices(self.network, hu_volume)
