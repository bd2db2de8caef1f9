"""What a worker process keeps between tasks: the projector of the last grid, the last segmenters and the last
image-noise model.

Building a projector (system matrices) or loading a model costs more than many tasks that
use it; tasks of one case run one after another, so a worker keeps the last ones. Kept
per process: every executor (in-process, process pool, Dask worker) gets the same results.
"""
from __future__ import annotations

from functools import lru_cache

PROJECTORS_KEPT = 1
"""Projectors of large grids hold GiBs of matrices: keep only the last one."""
SEGMENTERS_KEPT = 2
_image_noise_models: dict = {}
"""The last case's image-noise model (a mean and an SD map per dose level): (case, settings, doses, seed) -> model."""


def projector_for(volume, settings):
    """The projector for ``volume``'s grid and ``settings``' geometry and backend (reused while they stay)."""
    geometry = settings.scan_geometry(volume)
    return _projector(settings.backend, geometry, volume.array.shape, volume.spacing)


@lru_cache(maxsize=PROJECTORS_KEPT)
def _projector(backend: str, geometry, shape: tuple, spacing: tuple):
    from LowDoseRobustnessLib.projection import get_projector

    return get_projector(backend, geometry, shape, spacing)


@lru_cache(maxsize=SEGMENTERS_KEPT)
def segmenter_for(spec: str, options: tuple = ()):
    """A loaded segmenter for ``spec`` with ``options`` (sorted ``(name, value)`` pairs)."""
    from LowDoseRobustnessLib.segmenters import get_segmenter

    return get_segmenter(spec, **dict(options))


def image_noise_model_for(case, volume, settings, doses, model_seed: int, projector, cancel=None):
    """The image-noise model of ``case`` (its CT as ``volume``) at ``doses``, learnt once and reused by the case's
    other realizations; None in the projection-noise mode."""
    if settings.noise != "image":
        return None
    from LowDoseRobustnessLib.simulation.image_noise import train_image_noise_model

    key = (str(case.ct), repr(settings), tuple(sorted(set(doses) | {1.0})), int(model_seed))
    if key not in _image_noise_models:
        _image_noise_models.clear()
        _image_noise_models[key] = train_image_noise_model(volume, key[2], settings, model_seed, projector=projector,
                                                           cancel=cancel)
    return _image_noise_models[key]
