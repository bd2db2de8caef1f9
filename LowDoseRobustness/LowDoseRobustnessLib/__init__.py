"""LowDoseRobustnessLib: pure-Python core of the LowDoseRobustness Slicer extension.

No slicer/qt/vtk imports: numpy, SimpleITK and torch only. Arrays are indexed
``[z, y, x]``; spacing/origin are (x, y, z) in mm (see :mod:`.volume`).
The sub-packages follow the data's path: ``io`` (files), ``projection`` (geometry and
projectors), ``simulation``, ``reconstruction``, ``segmenters``, ``evaluation``,
``study`` (the engine) and ``cli``; :mod:`.contract` names what they share.
Importing the package itself loads nothing heavy.
"""
__all__ = ["InputError", "Volume"]
__version__ = "0.2.0"


def __getattr__(name):
    if name == "Volume":
        from LowDoseRobustnessLib.volume import Volume

        return Volume
    if name == "InputError":
        from LowDoseRobustnessLib.errors import InputError

        return InputError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
