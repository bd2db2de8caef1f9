"""Comparing any two segmentations of a scene: metrics from the Lib into a table node, disagreement over the volume."""
import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="needs the slicer-core wheel (pip install slicer-core)")

from LowDoseRobustnessLib.contract import METRIC_COLUMNS
from LowDoseRobustnessLib.evaluation.disagreement import disagreement_map
from LowDoseRobustnessLib.evaluation.metrics import compare_label_maps
from LowDoseRobustnessLib.volume import Volume
from LowDoseRobustnessSlicer import nodes, overlays, tables
from LowDoseRobustnessSlicer.comparison import match_test_labels
from LowDoseRobustnessSlicer.logic import StudyLogic


def grid() -> Volume:
    return Volume(np.zeros((6, 20, 24), np.int16), (1.5, 1.2, 3.0), (10.0, -5.0, 40.0), (-1, 0, 0, 0, -1, 0, 0, 0, 1))


def label_maps():
    """A reference with liver (1) and spleen (2); a test with the spleen shrunk, a liver voxel relabelled, a cyst added."""
    reference = np.zeros((6, 20, 24), np.uint8)
    reference[1:5, 2:10, 2:12] = 1
    reference[1:5, 12:18, 14:22] = 2
    test = reference.copy()
    test[1:5, 12:14, 14:22] = 0          # missed spleen
    test[2, 5, 5] = 2                    # liver voxel called spleen
    test[0, 0:2, 0:2] = 3                # added: only in the test
    return reference, test


def test_two_segmentations_compare_by_name_with_the_libs_metrics_and_classes(scene, slice_views):
    reference, test = label_maps()
    volume_node = nodes.add_volume_node(scene, grid(), "ct")
    reference_node = nodes.segmentation_from_labels(scene, grid().with_array(reference), {1: "liver", 2: "spleen"},
                                                    "full dose", reference_volume_node=volume_node)
    swapped = np.choose(test, [0, 2, 1, 3]).astype(np.uint8)  # the same structures under other label values
    test_node = nodes.segmentation_from_labels(scene, grid().with_array(swapped), {2: "liver", 1: "spleen", 3: "cyst"},
                                               "low dose", reference_volume_node=volume_node)
    logic = StudyLogic(scene)
    table, overlay = logic.compare_segmentations(reference_node, test_node, volume_node)
    expected = compare_label_maps(grid().with_array(reference), grid().with_array(test),
                                  names={1: "liver", 2: "spleen", 3: "cyst"})
    rows = tables.rows_from_table_node(table)
    assert [table.GetTable().GetColumnName(c) for c in range(table.GetNumberOfColumns())] == list(METRIC_COLUMNS)
    assert [(r["label"], r["name"], r["status"]) for r in rows] == list(zip(expected["label"], expected["name"],
                                                                           expected["status"]))
    for column in ("dice", "hd95_mm", "surface_dice", "volume_ref_ml", "volume_test_ml"):
        np.testing.assert_allclose([r[column] for r in rows], expected[column], err_msg=column)
    assert table.GetColumnUnitLabel("hd95_mm") == "mm" and table.GetColumnUnitLabel("volume_test_ml") == "ml"
    classes = disagreement_map(grid().with_array(reference), grid().with_array(test)).array
    counts = overlays.class_voxel_counts(overlay, volume_node)
    assert counts == {"agree": int(np.sum((classes == 0) & (reference > 0))), "missed": int(np.sum(classes == 1)),
                      "added": int(np.sum(classes == 2)), "relabelled": int(np.sum(classes == 3))}
    assert min(counts.values()) > 0
    assert nodes.labels_from_segmentation(overlay, volume_node)[0].same_grid(grid())  # drawn on the chosen volume
    segments = overlay.GetSegmentation()
    assert not overlay.GetDisplayNode().GetSegmentVisibility(segments.GetSegmentIdBySegmentName("agree"))
    centre = logic.centre_on_row(table, [r["name"] for r in rows].index("spleen"), reference_node)
    assert slice_views["Red"][0].GetSliceToRAS().GetElement(2, 3) == pytest.approx(centre[2])


def test_segments_without_matching_names_compare_by_label_value(scene):
    reference, test = label_maps()
    volume_node = nodes.add_volume_node(scene, grid(), "ct")
    reference_node = nodes.segmentation_from_labels(scene, grid().with_array(reference), {1: "liver", 2: "spleen"},
                                                    "model", reference_volume_node=volume_node)
    padded = np.pad(test, ((0, 0), (0, 0), (2, 0)))  # on a wider grid: two more columns at x index 0
    wider = Volume(padded, grid().spacing, (grid().origin[0] + 2 * grid().spacing[0], *grid().origin[1:]),
                   grid().direction)
    from_file = nodes.add_volume_node(scene, wider, "labels read from a file",
                                      "vtkMRMLLabelMapVolumeNode")  # a label map node: values, no names
    table, overlay = StudyLogic(scene).compare_segmentations(reference_node, from_file, volume_node,
                                                             show_agreement=True)
    rows = tables.rows_from_table_node(table)
    assert [(r["label"], r["name"]) for r in rows] == [(1, "liver"), (2, "spleen"), (3, "label_3")]
    assert rows[0]["dice"] == pytest.approx(compare_label_maps(grid().with_array(reference),
                                                               grid().with_array(test))["dice"][0])
    segments = overlay.GetSegmentation()
    assert overlay.GetDisplayNode().GetSegmentVisibility(segments.GetSegmentIdBySegmentName("agree"))


def test_label_matching_and_refusals(scene):
    test = np.array([[[0, 1, 2, 7]]])
    np.testing.assert_array_equal(match_test_labels(test, {1: "spleen", 2: "liver", 7: "x"}, {1: "liver", 5: "spleen"}),
                                  [[[0, 5, 1, 7]]])
    with pytest.raises(ValueError, match="reference and a test"):
        StudyLogic(scene).compare_segmentations(None, None, None)
