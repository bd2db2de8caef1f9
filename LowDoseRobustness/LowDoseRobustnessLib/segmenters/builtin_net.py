"""The built-in network: a small 3D U-Net in plain torch (no MONAI needed)."""
from __future__ import annotations

import torch
from torch import nn


def _block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.InstanceNorm3d(out_channels, affine=True), nn.LeakyReLU(0.01, inplace=True),
        nn.Conv3d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.InstanceNorm3d(out_channels, affine=True), nn.LeakyReLU(0.01, inplace=True))


class TinyUNet3d(nn.Module):
    """U-Net with ``len(features)`` levels; input sizes must be divisible by ``2 ** (len(features) - 1)``."""

    def __init__(self, in_channels: int, num_classes: int, features: tuple[int, ...] = (8, 16, 32, 64)):
        super().__init__()
        self.encoders = nn.ModuleList(
            _block(c_in, c_out) for c_in, c_out in zip((in_channels,) + tuple(features[:-1]), features))
        self.upsamplers = nn.ModuleList(
            nn.ConvTranspose3d(c_deep, c_skip, 2, stride=2) for c_deep, c_skip in zip(features[:0:-1], features[-2::-1]))
        self.decoders = nn.ModuleList(_block(2 * c, c) for c in features[-2::-1])
        self.head = nn.Conv3d(features[0], num_classes, 1)

    @property
    def size_divisor(self) -> int:
        return 2 ** (len(self.encoders) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level, encoder in enumerate(self.encoders):
            x = encoder(x if level == 0 else nn.functional.max_pool3d(x, 2))
            skips.append(x)
        for upsample, decoder, skip in zip(self.upsamplers, self.decoders, skips[-2::-1]):
            x = decoder(torch.cat([upsample(x), skip], dim=1))
        return self.head(x)
