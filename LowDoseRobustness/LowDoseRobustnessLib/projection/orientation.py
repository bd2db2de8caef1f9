"""Where a projector puts the scanner's x and y axes in its image arrays, measured with a probe.

Sinograms rebinned from measured data follow :class:`.geometry.ScanGeometry`'s frame (source at
SID (cos beta, sin beta), detector coordinate along (-sin beta, cos beta)); each backend maps that
frame onto its ``[z, y, x]`` arrays its own way (mbirjax's images are turned by 90 degrees against
astra's). Simulating from a CT never notices (projection and reconstruction share the backend's
convention), but an image of real projections must come out in the scanner's frame. So the
projector forward-projects a probe of three asymmetric blobs; the turn and mirror of the probe
whose point-by-point fan projection in ScanGeometry's frame matches best is the backend's orientation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from LowDoseRobustnessLib.errors import BackendUnavailable
from LowDoseRobustnessLib.projection.geometry import ScanGeometry

PROBE_BLOBS = ((0.18, 0.66, 1.0), (0.72, 0.33, 1.0), (0.48, 0.14, 0.5))
"""(row, column) as fractions of the grid and relative strength of the probe's blobs: no turn or mirror maps
them onto each other."""
MIN_CORRELATION = 0.9
MIN_MARGIN = 0.2


@dataclass(frozen=True)
class Orientation:
    """A backend image turned by ``quarter_turns`` (``np.rot90``), then mirrored left-right when ``mirrored``,
    has x along its columns and y up its rows (astra's layout)."""

    quarter_turns: int
    mirrored: bool

    def to_scanner(self, images: np.ndarray) -> np.ndarray:
        """Backend images ``[z, row, column]`` -> scanner frame: x grows with the column, y with the row."""
        turned = np.rot90(images, self.quarter_turns, axes=(1, 2))
        if self.mirrored:
            turned = turned[:, :, ::-1]
        return np.ascontiguousarray(turned[:, ::-1, :])


def _probe(size: int) -> np.ndarray:
    image = np.zeros((size, size), np.float32)
    half = max(1, size // 32)
    for row, column, strength in PROBE_BLOBS:
        r, c = int(row * size), int(column * size)
        image[r - half:r + half + 1, c - half:c + half + 1] = strength
    return image


def _fan_projection(image: np.ndarray, geometry: ScanGeometry, pixel_mm: float) -> np.ndarray:
    """Point-by-point fan projection in ScanGeometry's frame of an image whose columns run along x and rows along -y."""
    beta = geometry.angles_rad
    centre = (image.shape[0] - 1) / 2
    sinogram = np.zeros((beta.size, geometry.detector_columns))
    for row, column in zip(*np.nonzero(image)):
        x, y = (column - centre) * pixel_mm, -(row - centre) * pixel_mm
        along = x * np.cos(beta) + y * np.sin(beta)
        across = -x * np.sin(beta) + y * np.cos(beta)
        position = (geometry.source_detector_mm * across / (geometry.source_isocenter_mm - along)
                    / geometry.detector_column_mm + (geometry.detector_columns - 1) / 2)
        lower = np.floor(position).astype(int)
        for offset, weight in ((0, 1 - (position - lower)), (1, position - lower)):
            np.add.at(sinogram, (np.arange(beta.size), np.clip(lower + offset, 0, geometry.detector_columns - 1)),
                      weight * image[row, column])
    return sinogram


def _smooth(sinogram: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(sinogram, 1.5).ravel()


def image_orientation(projector, geometry: ScanGeometry, volume_shape, pixel_mm: float) -> Orientation:
    """The :class:`Orientation` of ``projector`` (bound to ``geometry`` and a square grid ``volume_shape``)."""
    nz, ny, nx = volume_shape
    if ny != nx:
        raise BackendUnavailable("the image orientation of a projector is measured on a square grid only")
    probe = _probe(nx)
    volume = np.zeros(volume_shape, np.float32)
    volume[0] = probe
    measured = _smooth(np.asarray(projector.forward_project(volume))[:, 0, :])
    scores = []
    for turns in range(4):
        for mirrored in (False, True):
            candidate = np.rot90(probe, turns)
            candidate = candidate[:, ::-1] if mirrored else candidate
            expected = _smooth(_fan_projection(candidate, geometry, pixel_mm))
            scores.append((float(np.corrcoef(measured, expected)[0, 1]), turns, mirrored))
    scores.sort(reverse=True)
    (best, turns, mirrored), (second, _, _) = scores[0], scores[1]
    if best < MIN_CORRELATION or best - second < MIN_MARGIN:
        raise BackendUnavailable(f"the {getattr(projector, 'name', 'chosen')} backend's image axes could not be "
                                 f"matched to the scanner frame (best probe correlation {best:.2f}, next {second:.2f})")
    return Orientation(quarter_turns=turns, mirrored=mirrored)
