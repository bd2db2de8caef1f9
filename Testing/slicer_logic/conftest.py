"""Fixtures for the Slicer layer: real MRML nodes (slicer-core), Slicer's own Python (vendored), the real engine."""
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


@pytest.fixture
def slicer_app(monkeypatch):
    """``import LowDoseRobustness`` / ``SyntheticCT`` as in Slicer (see ``Testing/support/slicer_application.py``)."""
    pytest.importorskip("slicer", reason="needs the slicer-core wheel (pip install slicer-core)")
    from slicer_application import slicer_application

    with slicer_application(monkeypatch) as slicer:
        yield slicer


@pytest.fixture
def slice_views(scene):
    """Slice and slice-composite nodes of the Red, Yellow and Green views, as Slicer's layout creates them."""
    views = {}
    for name in ("Red", "Yellow", "Green"):
        slice_node = scene.AddNewNodeByClass("vtkMRMLSliceNode")
        slice_node.SetLayoutName(name)
        slice_node.SetOrientationToAxial()
        composite = scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
        composite.SetLayoutName(name)
        views[name] = (slice_node, composite)
    return views
