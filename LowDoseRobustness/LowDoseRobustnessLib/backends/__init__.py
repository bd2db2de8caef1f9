"""Registry of projector backends. Adding one: a module with a :class:`Projector` class, plus one line here.

``get_projector("auto", ...)`` picks TIGRE when CUDA works, else the CPU backend for the
geometry mode; ``"cpu"`` is the CPU backend for the mode.
"""
from __future__ import annotations

from ..geometry import ScanGeometry
from ..volume import InputError
from .astra_fan import AstraFanBeamProjector
from .base import BackendUnavailable, Projector
from .mbirjax_backend import MbirjaxProjector
from .tigre_backend import TigreProjector

BACKENDS: dict[str, type] = {cls.name: cls for cls in (AstraFanBeamProjector, MbirjaxProjector, TigreProjector)}
CPU_DEFAULT = {"fan": AstraFanBeamProjector.name, "cone": MbirjaxProjector.name}


def available_backends() -> dict[str, str | None]:
    """Backend name -> None if it can run here, else the reason it cannot."""
    return {name: cls.unavailable_reason() for name, cls in BACKENDS.items()}


def resolve_backend_name(name: str, geometry: ScanGeometry) -> str:
    """Turn ``auto``/``cpu`` into a concrete backend; raise :class:`BackendUnavailable` with the reason."""
    if name == "auto":
        if TigreProjector.unavailable_reason() is None and geometry.mode in TigreProjector.modes:
            return TigreProjector.name
        name = "cpu"
    if name == "cpu":
        name = CPU_DEFAULT[geometry.mode]
    if name not in BACKENDS:
        raise InputError(f"unknown projector backend {name!r}; choose auto, cpu or one of {', '.join(BACKENDS)}")
    cls = BACKENDS[name]
    reason = cls.unavailable_reason()
    if reason is not None:
        raise BackendUnavailable(f"projector backend {name!r} is unavailable: {reason}")
    if geometry.mode not in cls.modes:
        raise BackendUnavailable(f"projector backend {name!r} does not support {geometry.mode}-beam geometry "
                                 f"(supports: {', '.join(cls.modes)})")
    return name


def get_projector(name: str, geometry: ScanGeometry, volume_shape, spacing_mm) -> Projector:
    """A projector bound to ``geometry`` and the voxel grid (built once, reused for every dose level)."""
    return BACKENDS[resolve_backend_name(name, geometry)](geometry, tuple(volume_shape), tuple(spacing_mm))


__all__ = ["BACKENDS", "BackendUnavailable", "Projector", "available_backends", "get_projector",
           "resolve_backend_name"]
