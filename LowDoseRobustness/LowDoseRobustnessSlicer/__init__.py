"""LowDoseRobustnessSlicer: the Slicer-facing layer that needs MRML but not Qt (runs with slicer-core).

``nodes`` converts volume and segmentation nodes to and from the Lib's arrays; ``tables`` and
``overlays`` make table, plot and disagreement nodes; ``study_folder`` loads a study folder the
engine wrote; ``comparison`` compares any two segmentations; ``views`` sets what the slice views
show; ``logic`` ties them together for the module, the Python console and batch mode;
``dependencies`` is the one list of Python packages the modules install.
"""
