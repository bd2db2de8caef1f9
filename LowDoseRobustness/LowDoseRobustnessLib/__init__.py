"""LowDoseRobustnessLib: pure-Python core of the LowDoseRobustness Slicer extension.

No slicer/qt/vtk imports: numpy, SimpleITK and torch only. Arrays are indexed
``[z, y, x]``; spacing/origin are (x, y, z) in mm (see :mod:`.volume`).
"""
from .volume import InputError, Volume

__all__ = ["InputError", "Volume"]
__version__ = "0.1.0"
