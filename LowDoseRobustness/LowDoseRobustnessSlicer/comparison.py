"""Any two segmentations of a scene compared with the Lib: a metrics table and a disagreement overlay.

Both are exported as label maps on the grid of the chosen volume. A test segment is matched to the
reference segment of the same name; a test segment whose name the reference lacks keeps its label
value, so it is compared with the reference segment of that value (segmentations read from label-map
files, whose segments are named ``Segment_<value>``, compare by value). Per matched label:
Dice, HD95 (mm), surface Dice and volumes from :func:`evaluation.metrics.compare_label_maps`; per
voxel the classes of :func:`evaluation.disagreement.disagreement_map`.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from LowDoseRobustnessLib.contract import METRIC_COLUMNS
from LowDoseRobustnessLib.errors import InputError

from LowDoseRobustnessSlicer import nodes, overlays, tables


def match_test_labels(test: np.ndarray, test_names: Mapping[int, str],
                      reference_names: Mapping[int, str]) -> np.ndarray:
    """The test label map with each label given the value of the reference label of its name, if any."""
    by_name = {name: value for value, name in reference_names.items()}
    lookup = np.arange(int(test.max(initial=0)) + 1, dtype=np.int64)
    for value, name in test_names.items():
        if name in by_name and value < lookup.size:
            lookup[value] = by_name[name]
    return lookup[test].astype(np.int32)


def compare_segmentations(scene, reference_node, test_node, volume_node, name: str = "",
                          show_agreement: bool = False):
    """Compare ``test_node`` with ``reference_node`` (segmentations or label maps) on ``volume_node``'s grid.

    Returns ``(table_node, disagreement_node)``: one table row per label (columns
    :data:`contract.METRIC_COLUMNS`) and the disagreement segmentation over ``volume_node``.
    """
    from LowDoseRobustnessLib.evaluation.disagreement import disagreement_map
    from LowDoseRobustnessLib.evaluation.metrics import compare_label_maps

    if reference_node is None or test_node is None:
        raise InputError("choose a reference and a test segmentation")
    if volume_node is None:
        raise InputError("choose the volume to compare on (its grid) and show the differences over")
    reference, reference_names = nodes.labels_from_node(reference_node, volume_node)
    test, test_names = nodes.labels_from_node(test_node, volume_node)
    test = test.with_array(match_test_labels(np.asarray(test.array), test_names, reference_names))
    names = {**{v: n for v, n in test_names.items() if n not in reference_names.values()}, **reference_names}
    metrics = compare_label_maps(reference, test, names=names)
    name = name or f"{test_node.GetName()} vs {reference_node.GetName()}"
    rows = metrics[list(METRIC_COLUMNS)].to_dict("records")
    table_node = tables.table_node_from_rows(scene, rows, f"{name} metrics", METRIC_COLUMNS)
    overlay = overlays.disagreement_segmentation(scene, disagreement_map(reference, test), reference.array,
                                                 f"{name} disagreement", volume_node, show_agreement)
    return table_node, overlay
