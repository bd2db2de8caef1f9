"""What the slice views show, set through the scene's slice and slice-composite nodes (MRML only, no Qt).

The module's side-by-side layout has two axial views: ``Red`` shows the chosen low-dose volume
with its disagreement overlay, ``Yellow`` the full-dose volume of the same reconstruction; their
composite nodes are linked, so scrolling or panning one moves the other.
"""
from __future__ import annotations

from typing import Iterable, Optional

import slicer

LOW_DOSE_VIEW, FULL_DOSE_VIEW = "Red", "Yellow"

STUDY_LAYOUT_ID = 5151
"""The module's layout (an ID of its own, above Slicer's built-in layouts)."""
_SLICE_VIEW = ('<item><view class="vtkMRMLSliceNode" singletontag="{tag}"><property name="orientation" '
               'action="relayout">Axial</property><property name="viewlabel" action="default">{label}</property>'
               '<property name="viewcolor" action="default">{color}</property></view></item>')
STUDY_LAYOUT = (
    '<layout type="vertical"><item><layout type="horizontal">'
    + _SLICE_VIEW.format(tag=LOW_DOSE_VIEW, label="R", color="#F34A33")
    + _SLICE_VIEW.format(tag=FULL_DOSE_VIEW, label="Y", color="#EDD54C")
    + '</layout></item><item><layout type="horizontal">'
    '<item><view class="vtkMRMLTableViewNode" singletontag="TableView1"><property name="viewlabel" '
    'action="default">T</property></view></item>'
    '<item><view class="vtkMRMLPlotViewNode" singletontag="PlotView1"><property name="viewlabel" '
    'action="default">P</property></view></item></layout></item></layout>')
"""Low dose (Red) beside full dose (Yellow), both axial; the results table and the Dice plot below."""


def composite_nodes(scene) -> dict[str, object]:
    """Slice-composite nodes by view name (``Red``, ``Yellow``, ``Green``, ...)."""
    found = scene.GetNodesByClass("vtkMRMLSliceCompositeNode")
    return {found.GetItemAsObject(i).GetLayoutName(): found.GetItemAsObject(i) for i in range(found.GetNumberOfItems())}


def show_pair(scene, low_dose_volume, full_dose_volume=None, overlays: Iterable = (), shown_overlay=None) -> None:
    """Low dose in the Red view, full dose in the Yellow view (linked); only ``shown_overlay`` drawn.

    Without a full-dose volume every view shows the low-dose volume. ``overlays``: the segmentations
    that compete for display (e.g. every disagreement map of a study); all but ``shown_overlay`` are hidden.
    """
    for overlay in overlays:
        display = overlay.GetDisplayNode()
        if display is not None:
            display.SetVisibility(overlay is shown_overlay)
    if shown_overlay is not None and shown_overlay.GetDisplayNode() is not None:
        shown_overlay.GetDisplayNode().SetVisibility(True)
    for view, composite in composite_nodes(scene).items():
        volume = full_dose_volume if view == FULL_DOSE_VIEW and full_dose_volume is not None else low_dose_volume
        composite.SetBackgroundVolumeID(volume.GetID() if volume is not None else None)
        composite.SetForegroundVolumeID(None)
        composite.SetLinkedControl(full_dose_volume is not None)


def centre_on_segment(scene, segmentation_node, segment_name: str) -> Optional[tuple[float, float, float]]:
    """Centre every slice view on a segment (by name); its RAS centre, or None when it is absent or empty."""
    segment_id = segmentation_node.GetSegmentation().GetSegmentIdBySegmentName(segment_name)
    centre = segmentation_node.GetSegmentCenterRAS(segment_id) if segment_id else None
    if centre is None:
        return None
    slicer.vtkMRMLSliceNode.JumpAllSlices(scene, *centre, slicer.vtkMRMLSliceNode.CenteredJumpSlice)
    return tuple(float(c) for c in centre)
