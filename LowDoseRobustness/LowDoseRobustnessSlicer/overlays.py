"""A disagreement map as a coloured segmentation over the volume it was computed on.

One segment per class of :data:`contract.DISAGREEMENT_CLASSES`, named and coloured as there (missed
red, added blue, relabelled yellow, agree green), always all four, in class order, each holding
exactly the map's voxels of its class. The map's class 0 also covers the background both maps
agree on; the *agree* segment holds the part of it inside a structure (class 0 where the reference
map is labelled), which is what a reader wants to see, and is hidden until asked for.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from LowDoseRobustnessLib.contract import AGREE, DISAGREEMENT_CLASSES
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume

from LowDoseRobustnessSlicer import nodes

AGREE_LABEL = len(DISAGREEMENT_CLASSES)
"""Label value of the *agree* segment (class 0 cannot be a segment's label value)."""


def _label(value: int) -> int:
    return AGREE_LABEL if value == AGREE else value


def disagreement_segmentation(scene, classes: Volume, reference_labels: np.ndarray, name: str,
                              reference_volume_node=None, show_agreement: bool = False):
    """The class map ``classes`` (values of :data:`contract.DISAGREEMENT_CLASSES`) as a segmentation node.

    ``reference_labels``: the reference label map on the same grid (where class 0 is agreement inside a
    structure). ``show_agreement``: draw the *agree* segment (hidden by default).
    """
    class_array = np.asarray(classes.array)
    known = {c.value for c in DISAGREEMENT_CLASSES}
    unknown = set(np.unique(class_array).tolist()) - known
    if unknown:
        raise InputError(f"a disagreement map holds the classes {sorted(known)}; found {sorted(unknown)}")
    if np.shape(reference_labels) != class_array.shape:
        raise InputError("the disagreement map and its reference label map are not on one grid")
    combined = np.where(class_array == AGREE, np.where(np.asarray(reference_labels) > 0, AGREE_LABEL, 0),
                        class_array).astype(np.uint8)
    segmentation = nodes.segmentation_from_labels(
        scene, classes.with_array(combined), {_label(c.value): c.name for c in DISAGREEMENT_CLASSES}, name,
        {_label(c.value): c.colour for c in DISAGREEMENT_CLASSES}, reference_volume_node)
    segments = segmentation.GetSegmentation()
    for disagreement_class in DISAGREEMENT_CLASSES:  # every class gets its segment, empty or not
        if not segments.GetSegmentIdBySegmentName(disagreement_class.name):
            segments.AddEmptySegment(disagreement_class.name, disagreement_class.name, disagreement_class.colour)
            segments.GetSegment(disagreement_class.name).SetLabelValue(_label(disagreement_class.value))
    _order_by_class(segments)
    set_agreement_visible(segmentation, show_agreement)
    return segmentation


def _order_by_class(segments) -> None:
    for index, disagreement_class in enumerate(DISAGREEMENT_CLASSES):
        segments.SetSegmentIndex(segments.GetSegmentIdBySegmentName(disagreement_class.name), index)


def set_agreement_visible(segmentation_node, visible: bool) -> None:
    """Show or hide the *agree* segment of a disagreement segmentation (the other classes stay shown)."""
    display = segmentation_node.GetDisplayNode()
    segment_id = segmentation_node.GetSegmentation().GetSegmentIdBySegmentName(
        next(c.name for c in DISAGREEMENT_CLASSES if c.value == AGREE))
    if display is not None and segment_id:
        display.SetSegmentVisibility(segment_id, bool(visible))


def class_voxel_counts(segmentation_node, reference_volume_node: Optional[object] = None) -> dict[str, int]:
    """Voxels per class name in a disagreement segmentation, on the reference volume's grid."""
    labels, _ = nodes.labels_from_segmentation(segmentation_node, reference_volume_node)
    counts = np.bincount(np.asarray(labels.array).ravel(), minlength=AGREE_LABEL + 1)
    return {c.name: int(counts[_label(c.value)]) for c in DISAGREEMENT_CLASSES}
