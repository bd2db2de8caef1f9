"""Slicer's own Python code on the real MRML classes of ``slicer-core``, without a Slicer application.

``Testing/slicer_python`` holds a pinned copy of Slicer's ``Base/Python/slicer/parameterNodeWrapper/``,
``ScriptedLoadableModule.py`` and ``i18n.py`` (see its README for the commit). :func:`install` puts them
into ``sys.modules`` as ``slicer.parameterNodeWrapper``, ``slicer.ScriptedLoadableModule`` and
``slicer.i18n``, beside the ``slicer`` package of slicer-core (real ``vtkMRMLScene``, nodes, ``slicer.util``),
gives ``slicer`` a real scene as ``slicer.mrmlScene``, and stands in for what only a Slicer application has:
the ``qt`` and ``ctk`` modules, Slicer's Qt widget classes and ``slicer.app``, all inert (every class, call and attribute exists and
does nothing). So the module files (``LowDoseRobustness.py``, ``SyntheticCT.py``) import as in Slicer,
their parameter nodes go through Slicer's real serializers and validators, and their logic runs for real.
"""
from __future__ import annotations

import importlib.util
import sys
import types
from contextlib import contextmanager

from shared_data import REPOSITORY

SLICER_PYTHON = REPOSITORY / "Testing" / "slicer_python" / "Base" / "Python" / "slicer"
VENDORED = ("i18n", "parameterNodeWrapper", "ScriptedLoadableModule")
"""Slicer's modules, in import order (each imports the ones before it)."""
MODULE_FOLDERS = (REPOSITORY / "LowDoseRobustness", REPOSITORY / "SyntheticCT")
SLICER_WIDGETS = ("qMRMLNodeComboBox", "qMRMLRangeWidget", "qMRMLSliderWidget", "qMRMLSpinBox", "qMRMLWidget",
                  "qSlicerWidget")
"""Slicer's Qt widget classes (not in slicer-core), inert like ``qt`` and ``ctk``."""


class _InertType(type):
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Inert()


class Inert(metaclass=_InertType):
    """Any Qt/CTK class or object: accepts every argument, call and attribute, and does nothing."""

    def __init__(self, *arguments, **keywords):
        pass

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Inert()

    def __call__(self, *arguments, **keywords):
        return Inert()

    def __bool__(self):
        return False

    def __iter__(self):
        return iter(())


class InertApplication(Inert):
    """``slicer.app`` without Qt: translations return the text unchanged (as Slicer's without a translation)."""

    @staticmethod
    def translate(context, text):
        return text


def inert_module(name: str) -> types.ModuleType:
    """A module (``qt``, ``ctk``) whose every attribute is an :class:`Inert` class of that name."""
    module = types.ModuleType(name)
    classes = {}

    def class_named(attribute):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return classes.setdefault(attribute, type(attribute, (Inert,), {}))

    module.__getattr__ = class_named
    return module


def _load(name: str) -> types.ModuleType:
    path = SLICER_PYTHON / name
    location = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    spec = importlib.util.spec_from_file_location(
        f"slicer.{name}", location, submodule_search_locations=[str(path)] if path.is_dir() else None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@contextmanager
def slicer_application(monkeypatch, scene=None):
    """Within the block, ``import slicer.parameterNodeWrapper`` etc. and the module files work as in Slicer.

    ``monkeypatch`` (pytest's) and the block's end undo everything: the module files and Slicer's
    modules are imported afresh by the next block. Yields the ``slicer`` package.
    """
    import slicer

    before = set(sys.modules)
    for name in ("qt", "ctk"):
        monkeypatch.setitem(sys.modules, name, inert_module(name))
    monkeypatch.setattr(slicer, "mrmlScene", scene or slicer.vtkMRMLScene(), raising=False)
    monkeypatch.setattr(slicer, "app", InertApplication(), raising=False)
    for name in SLICER_WIDGETS:
        monkeypatch.setattr(slicer, name, type(name, (Inert,), {}), raising=False)
    for folder in MODULE_FOLDERS:
        monkeypatch.syspath_prepend(str(folder))
        sys.modules.pop(folder.name, None)
    try:
        for name in VENDORED:
            monkeypatch.setattr(slicer, name, _load(name), raising=False)
        yield slicer
    finally:
        fresh = [name for name in set(sys.modules) - before
                 if name.split(".")[0] in {"qt", "ctk", *(f.name for f in MODULE_FOLDERS)}
                 or name.startswith(tuple(f"slicer.{v}" for v in VENDORED))]
        for name in fresh:
            sys.modules.pop(name, None)
