"""Projector backends behind one protocol (:class:`.base.Projector`), catalogued in :data:`.contract.BACKENDS`.

``get_projector("auto", ...)`` picks TIGRE when CUDA works, else the CPU backend for the
geometry mode; ``"cpu"`` is the CPU backend for the mode. Backends load on first use.
Adding one: a module with a :class:`Projector` class, plus one line in the contract.
"""
from __future__ import annotations

from LowDoseRobustnessLib.contract import BACKEND_CHOICES, BACKENDS
from LowDoseRobustnessLib.errors import BackendUnavailable, InputError
from LowDoseRobustnessLib.projection.base import Projector
from LowDoseRobustnessLib.projection.geometry import ScanGeometry

CPU_DEFAULT = {"fan": "astra", "cone": "mbirjax"}
GPU_BACKEND = "tigre"


def available_backends() -> dict[str, str | None]:
    """Backend name -> None if it can run here, else the reason it cannot."""
    return {name: BACKENDS.load(name).unavailable_reason() for name in BACKENDS}


def resolve_backend_name(name: str, geometry: ScanGeometry) -> str:
    """Turn ``auto``/``cpu`` into a concrete backend; raise :class:`BackendUnavailable` with the reason."""
    if name == "auto":
        gpu = BACKENDS.load(GPU_BACKEND)
        if gpu.unavailable_reason() is None and geometry.mode in gpu.modes:
            return GPU_BACKEND
        name = "cpu"
    if name == "cpu":
        name = CPU_DEFAULT[geometry.mode]
    if name not in BACKENDS:
        raise InputError(f"unknown projector backend {name!r}; choose one of {', '.join(BACKEND_CHOICES)}")
    cls = BACKENDS.load(name)
    reason = cls.unavailable_reason()
    if reason is not None:
        raise BackendUnavailable(f"projector backend {name!r} is unavailable: {reason}")
    if geometry.mode not in cls.modes:
        raise BackendUnavailable(f"projector backend {name!r} does not support {geometry.mode}-beam geometry "
                                 f"(supports: {', '.join(cls.modes)})")
    return name


def get_projector(name: str, geometry: ScanGeometry, volume_shape, spacing_mm) -> Projector:
    """A projector bound to ``geometry`` and the voxel grid (built once, reused for every dose level)."""
    return BACKENDS.load(resolve_backend_name(name, geometry))(geometry, tuple(volume_shape), tuple(spacing_mm))


__all__ = ["BackendUnavailable", "Projector", "available_backends", "get_projector", "resolve_backend_name"]
