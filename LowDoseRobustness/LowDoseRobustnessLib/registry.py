"""Catalogues of pluggable parts as data: a name maps to ``"module:attribute"``, imported on first use.

Listing the names (for choice lists, ``--help``, the Slicer GUI) imports nothing, so the
catalogues live in the light :mod:`.contract`; :meth:`Registry.load` imports one member
when it is really needed.
"""
from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module

from LowDoseRobustnessLib.errors import InputError


class Registry(Mapping):
    """Read-only ``name -> "package.module:attribute"`` mapping whose members load lazily.

    >>> Registry("filter", {"ram-lak": "math:pi"}).load("ram-lak")
    3.141592653589793
    """

    def __init__(self, kind: str, targets: dict[str, str]):
        self.kind = kind
        self._targets = dict(targets)

    def __getitem__(self, name: str) -> str:
        return self._targets[name]

    def __iter__(self):
        return iter(self._targets)

    def __len__(self) -> int:
        return len(self._targets)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._targets)

    def load(self, name: str):
        """The member called ``name``; :class:`InputError` listing the choices when there is none."""
        if name not in self._targets:
            raise InputError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self._targets)}")
        module_name, _, attribute = self._targets[name].partition(":")
        module = import_module(module_name)
        return getattr(module, attribute) if attribute else module
