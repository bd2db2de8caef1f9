"""What the SyntheticCT module shares between its library, its ``lowdose`` commands and its Slicer layer.

Standard library only, like :mod:`LowDoseRobustnessLib.contract`, on which it builds.
"""
from __future__ import annotations

from pathlib import Path

STRATEGIES = ("single", "constant", "texture")
"""Tsanda et al.'s synthetic data #1 (body cylinder + constants), #2 (piecewise constant), #3 (textured)."""
DEFAULT_STRATEGY = "texture"
DEFAULT_GEOMETRY = "fast"
COMMANDS = {"synth": "SyntheticCTLib.cli.synth", "synth-stats": "SyntheticCTLib.cli.synth_stats"}
"""The ``lowdose`` sub-commands this module adds (also registered as entry points in pyproject.toml)."""
HU_STATISTICS_TABLE = Path(__file__).resolve().parents[1] / "Resources" / "hu_statistics.csv"
DATASET_JSON = "dataset.json"
IMAGES_FOLDER, LABELS_FOLDER = "imagesTr", "labelsTr"
"""An nnU-Net v2 raw dataset: ``imagesTr/<case>_0000.nii.gz``, ``labelsTr/<case>.nii.gz``, ``dataset.json``."""
