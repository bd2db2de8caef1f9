"""Fixtures for tests against real MRML nodes (slicer-core wheel, no Slicer application)."""
from pathlib import Path

import pytest


from shared_data import EXAMPLES


@pytest.fixture
def scene():
    slicer = pytest.importorskip("slicer", reason="needs the slicer-core wheel (pip install slicer-core)")
    return slicer.vtkMRMLScene()


@pytest.fixture
def example_ct():
    path = EXAMPLES / "example_ct_sm.nii.gz"
    if not path.exists():
        pytest.skip(f"example CT not found at {path}")
    return path
