"""Node <-> Volume conversions, table, plot and overlay nodes against real MRML nodes (slicer-core)."""
import numpy as np
import pytest
import SimpleITK as sitk
import vtk

slicer = pytest.importorskip("slicer", reason="needs the slicer-core wheel (pip install slicer-core)")

from LowDoseRobustnessLib.io.volumes import read_volume
from LowDoseRobustnessLib.volume import Volume
from LowDoseRobustnessLib.contract import DISAGREEMENT_CLASSES
from LowDoseRobustnessSlicer import nodes, overlays, tables


def oblique_volume():
    angle = np.deg2rad(20)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    direction = rotation @ np.diag([1, -1, 1])  # rotated and flipped: exercises every sign
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    return Volume(array, (0.7, 0.8, 2.5), (-12.5, 30.25, 7.0), tuple(direction.ravel()))


def test_volume_round_trip_through_a_scalar_volume_node(scene):
    volume = oblique_volume()
    node = nodes.add_volume_node(scene, volume, "oblique")
    assert node.IsA("vtkMRMLScalarVolumeNode") and node.GetDisplayNode() is not None
    back = nodes.volume_from_node(node)
    np.testing.assert_array_equal(back.array, volume.array)
    assert back.array.dtype == volume.array.dtype
    np.testing.assert_allclose(back.spacing, volume.spacing)
    np.testing.assert_allclose(back.origin, volume.origin)
    np.testing.assert_allclose(back.direction, volume.direction, atol=1e-12)
    assert node.GetImageData().GetDimensions() == (6, 5, 4)  # VTK is (x, y, z)


def test_known_voxel_position_matches_simpleitk_in_lps_and_the_node_in_ras(scene, example_ct):
    image = sitk.ReadImage(str(example_ct))
    volume = read_volume(example_ct)
    node = nodes.add_volume_node(scene, volume, "ct")
    ijk = (17, 42, 11)  # (x, y, z) voxel index
    lps = np.array(image.TransformIndexToPhysicalPoint(ijk))
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    ras = np.array(matrix.MultiplyPoint((*ijk, 1.0))[:3])
    np.testing.assert_allclose(ras, [-lps[0], -lps[1], lps[2]], atol=1e-6)
    assert slicer.util.arrayFromVolume(node)[ijk[2], ijk[1], ijk[0]] == image[ijk]
    # and back: the physical point in RAS maps to the same index in the node
    ras_to_ijk = vtk.vtkMatrix4x4()
    node.GetRASToIJKMatrix(ras_to_ijk)
    np.testing.assert_allclose(ras_to_ijk.MultiplyPoint((*ras, 1.0))[:3], ijk, atol=1e-6)


def test_node_geometry_equals_slicers_own_reader(scene, example_ct):
    """Slicer's file reader (ITK, LPS->RAS inside Slicer) and our conversion agree."""
    reference = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "read by slicer")
    storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.SetFileName(str(example_ct))
    assert storage.ReadData(reference)
    ours = nodes.add_volume_node(scene, read_volume(example_ct), "ours")
    expected, actual = vtk.vtkMatrix4x4(), vtk.vtkMatrix4x4()
    reference.GetIJKToRASMatrix(expected)
    ours.GetIJKToRASMatrix(actual)
    np.testing.assert_allclose(slicer.util.arrayFromVTKMatrix(actual), slicer.util.arrayFromVTKMatrix(expected),
                               atol=1e-4)
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(ours), slicer.util.arrayFromVolume(reference))
    back = nodes.volume_from_node(reference)
    original = read_volume(example_ct)
    np.testing.assert_allclose(back.origin, original.origin, atol=1e-4)
    np.testing.assert_allclose(back.direction, original.direction, atol=1e-6)


def test_linear_parent_transform_is_applied(scene):
    volume = oblique_volume()
    node = nodes.add_volume_node(scene, volume, "moved")
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    shift = np.eye(4)
    shift[:3, 3] = (10.0, -5.0, 2.0)  # RAS mm
    transform.SetMatrixTransformToParent(slicer.util.vtkMatrixFromArray(shift))
    node.SetAndObserveTransformNodeID(transform.GetID())
    moved = nodes.volume_from_node(node)
    np.testing.assert_allclose(moved.origin, np.array(volume.origin) + (-10.0, 5.0, 2.0))


def test_label_map_to_segmentation_with_names_and_back(scene):
    grid = oblique_volume()
    labels = np.zeros(grid.array.shape, np.uint8)
    labels[1:3, 1:4, 1:3] = 5
    labels[0, 0, 4:6] = 2
    reference = nodes.add_volume_node(scene, grid, "reference")
    segmentation = nodes.segmentation_from_labels(scene, grid.with_array(labels), {5: "liver", 2: "kidney_right"},
                                                  "model", {5: (0.8, 0.4, 0.3)}, reference)
    assert segmentation.IsA("vtkMRMLSegmentationNode")
    segments = segmentation.GetSegmentation()
    by_name = {segments.GetNthSegment(i).GetName(): segments.GetNthSegment(i) for i in range(2)}
    assert set(by_name) == {"liver", "kidney_right"}
    assert by_name["liver"].GetLabelValue() == 5
    np.testing.assert_allclose(by_name["liver"].GetColor(), (0.8, 0.4, 0.3))
    assert scene.GetNodesByClass("vtkMRMLLabelMapVolumeNode").GetNumberOfItems() == 0  # temporary removed
    back, names = nodes.labels_from_segmentation(segmentation, reference)
    assert names == {5: "liver", 2: "kidney_right"}
    np.testing.assert_array_equal(back.array, labels)
    assert back.same_grid(grid)


def test_segments_with_clashing_label_values_get_consecutive_labels(scene):
    """Segments drawn separately (as in the Segment Editor) all have label value 1."""
    grid = Volume(np.zeros((3, 4, 5), np.int16))
    reference = nodes.add_volume_node(scene, grid, "reference")
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "drawn")
    for voxel, name in (((1, 1, 1), "tumour"), ((2, 2, 2), "cyst")):
        mask = np.zeros((3, 4, 5), np.uint8)
        mask[voxel] = 1
        labelmap = nodes.add_volume_node(scene, grid.with_array(mask), name, "vtkMRMLLabelMapVolumeNode")
        assert slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(labelmap, segmentation)
        segments = segmentation.GetSegmentation()
        segments.GetNthSegment(segments.GetNumberOfSegments() - 1).SetName(name)
    back, names = nodes.labels_from_segmentation(segmentation, reference)
    assert names == {1: "tumour", 2: "cyst"}
    assert back.array[1, 1, 1] == 1 and back.array[2, 2, 2] == 2 and back.array.sum() == 3


def test_metrics_table_node_columns_units_and_values(scene):
    rows = [
        {"case": "007", "dose": "0.2", "label": "1", "name": "spleen", "dice": "0.91", "hd95_mm": "2.5",
         "volume_ref_ml": "150.0", "realization": "0", "extra": "x"},
        {"case": "007", "dose": "0.2", "label": "5", "name": "liver", "dice": "", "hd95_mm": "inf",
         "volume_ref_ml": "1500", "realization": "1", "extra": "y"},
    ]
    table = tables.table_node_from_rows(scene, rows, "metrics")
    vtable = table.GetTable()
    names = [vtable.GetColumn(i).GetName() for i in range(vtable.GetNumberOfColumns())]
    assert names == ["case", "dose", "label", "name", "dice", "hd95_mm", "volume_ref_ml", "realization", "extra"]
    assert table.GetColumnUnitLabel("hd95_mm") == "mm" and table.GetColumnUnitLabel("volume_ref_ml") == "ml"
    assert vtable.GetNumberOfRows() == 2
    assert vtable.GetColumnByName("case").IsA("vtkStringArray")  # case ids stay text ("007")
    assert vtable.GetColumnByName("dice").IsA("vtkDoubleArray")
    assert vtable.GetColumnByName("label").IsA("vtkIntArray")
    back = tables.rows_from_table_node(table)
    assert back[0]["case"] == "007" and back[0]["dice"] == pytest.approx(0.91) and back[1]["label"] == 5
    assert np.isnan(back[1]["dice"]) and np.isinf(back[1]["hd95_mm"]) and back[1]["extra"] == "y"


def test_dice_plot_one_series_per_structure_and_reconstruction(scene):
    rows = [{"dose": d, "label": l, "name": n, "dice": 1 - d / 10 - l / 100, "reconstruction": r}
            for d in (0.2, 0.4, 0.8) for l, n in ((1, "spleen"), (5, "liver")) for r in ("fbp", "cnn")]
    chart, wide, series = tables.dice_plot(scene, rows)
    assert [s.GetName() for s in series] == ["spleen (fbp)", "spleen (cnn)", "liver (fbp)", "liver (cnn)"]
    assert all(s.GetTableNode() is wide and s.GetXColumnName() == "dose_percent" for s in series)
    np.testing.assert_allclose(slicer.util.arrayFromTableColumn(wide, "dose_percent"), [20, 40, 80])
    np.testing.assert_allclose(slicer.util.arrayFromTableColumn(wide, "liver (cnn)"), [1 - d / 10 - 0.05 for d in (0.2, 0.4, 0.8)])
    fbp = [row for row in rows if row["reconstruction"] == "fbp"]
    realization = [{**row, "dice": row["dice"] - 0.1} for row in fbp if row["dose"] == 0.2]
    _, wide, series = tables.dice_plot(scene, fbp + realization)
    assert [s.GetName() for s in series] == ["spleen", "liver"]
    assert slicer.util.arrayFromTableColumn(wide, "liver")[0] == pytest.approx(1 - 0.02 - 0.05 - 0.05)  # mean of both


def test_disagreement_overlay_has_every_class_in_order_and_refuses_unknown_classes(scene):
    grid = Volume(np.zeros((2, 3, 4), np.int16), (1, 1, 1))
    classes = np.zeros((2, 3, 4), np.uint8)
    classes[0, 0, 0] = 1
    classes[1, 2, 3] = 2
    reference = np.zeros((2, 3, 4), np.uint8)
    reference[0, :2, :2] = 4
    reference_node = nodes.add_volume_node(scene, grid, "grid")
    overlay = overlays.disagreement_segmentation(scene, grid.with_array(classes), reference, "d", reference_node)
    segments = overlay.GetSegmentation()
    assert [segments.GetNthSegment(i).GetName() for i in range(4)] == [c.name for c in DISAGREEMENT_CLASSES]
    assert overlays.class_voxel_counts(overlay, reference_node) == {"agree": 3, "missed": 1, "added": 1, "relabelled": 0}
    with pytest.raises(ValueError, match="classes"):
        overlays.disagreement_segmentation(scene, grid.with_array(classes + 4), reference, "bad")


def test_segmentation_without_reference_uses_its_own_geometry_and_labelmap_names(scene):
    grid = oblique_volume()
    labels = np.zeros(grid.array.shape, np.uint8)
    labels[1:3, 1:4, 1:3] = 4
    segmentation = nodes.segmentation_from_labels(scene, grid.with_array(labels), {4: "aorta"}, "seg",
                                                  reference_volume_node=nodes.add_volume_node(scene, grid, "ref"))
    back, names = nodes.labels_from_node(segmentation)
    assert names == {4: "aorta"} and back.same_grid(grid)
    np.testing.assert_array_equal(back.array, labels)
    labelmap = nodes.add_volume_node(scene, grid.with_array(labels), "lm", "vtkMRMLLabelMapVolumeNode")
    colors = scene.AddNewNodeByClass("vtkMRMLColorTableNode", "colors")
    colors.SetTypeToUser()
    colors.SetNumberOfColors(5)
    colors.SetColor(4, "aorta", 1.0, 0.0, 0.0, 1.0)
    labelmap.GetDisplayNode().SetAndObserveColorNodeID(colors.GetID())
    array, names = nodes.labels_from_node(labelmap)
    assert names == {4: "aorta"} and array.same_grid(grid)


def test_metrics_table_tolerates_a_summary_row(scene):
    rows = [{"label": "1", "name": "spleen", "dice": "0.9"}, {"label": "all", "name": "mean", "dice": "0.8"}]
    table = tables.table_node_from_rows(scene, rows, "metrics")
    assert table.GetTable().GetColumnByName("label").IsA("vtkStringArray")
    assert table.GetTable().GetColumnByName("dice").IsA("vtkDoubleArray")
