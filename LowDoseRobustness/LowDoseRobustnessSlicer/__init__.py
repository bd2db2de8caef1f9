"""LowDoseRobustnessSlicer: the Slicer-facing layer that needs MRML but not Qt.

``nodes`` converts between MRML nodes and the Lib's arrays/:class:`Volume`; ``logic``
runs studies (simulate -> segment -> compare) on nodes, usable from the Slicer Python
console, in batch mode, and in tests with the ``slicer-core`` wheel.
"""
