"""MRML volume and segmentation nodes <-> the Lib's arrays and :class:`Volume` (slicer-core; no Qt, no slicer.app).

Coordinate systems: the Lib's :class:`Volume` (like SimpleITK and NIfTI/NRRD files)
is in LPS; a Slicer volume node's IJKToRAS matrix is in RAS. A voxel index
``ijk = (i, j, k)`` (i = column x, k = slice z) maps to

    LPS = origin + direction @ diag(spacing) @ ijk      (Volume)
    RAS = diag(-1, -1, 1) @ LPS                           (node)

so the node gets ``IJKToRAS = [[F D diag(s), F o], [0, 0, 0, 1]]`` with ``F = diag(-1, -1, 1)``.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np
import slicer
import vtk

from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.evaluation.label_grid import labels_on_reference_grid
from LowDoseRobustnessLib.volume import Volume

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


# --- geometry --------------------------------------------------------------------------------------
def ijk_to_ras(volume: Volume) -> np.ndarray:
    """The 4x4 IJKToRAS matrix of ``volume`` (whose geometry is LPS)."""
    direction = np.asarray(volume.direction, float).reshape(3, 3)
    matrix = np.eye(4)
    matrix[:3, :3] = LPS_TO_RAS @ direction @ np.diag(volume.spacing)
    matrix[:3, 3] = LPS_TO_RAS @ np.asarray(volume.origin, float)
    return matrix


def geometry_from_ijk_to_ras(matrix: np.ndarray) -> tuple[tuple, tuple, tuple]:
    """(spacing, origin, direction) in the Lib's LPS convention from a 4x4 IJKToRAS matrix."""
    matrix = np.asarray(matrix, float)
    axes = LPS_TO_RAS @ matrix[:3, :3]
    spacing = np.linalg.norm(axes, axis=0)
    if not np.all(spacing > 0):
        raise InputError("the volume's IJK-to-RAS matrix is degenerate (zero voxel spacing)")
    direction = axes / spacing
    origin = LPS_TO_RAS @ matrix[:3, 3]
    return tuple(spacing), tuple(origin), tuple(direction.ravel())


def node_ijk_to_world(node) -> np.ndarray:
    """IJK -> world RAS of a volume node, including a linear parent transform."""
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    ijk_to_ras_matrix = slicer.util.arrayFromVTKMatrix(matrix)
    parent = node.GetParentTransformNode()
    if parent is None:
        return ijk_to_ras_matrix
    if not parent.IsTransformToWorldLinear():
        raise InputError(f"volume {node.GetName()!r} is under a non-linear transform; harden the transform first")
    to_world = vtk.vtkMatrix4x4()
    parent.GetMatrixTransformToWorld(to_world)
    return slicer.util.arrayFromVTKMatrix(to_world) @ ijk_to_ras_matrix


# --- volumes ---------------------------------------------------------------------------------------
def volume_from_node(node) -> Volume:
    """A :class:`Volume` (copy of the voxels, LPS geometry in world space) from a scalar or label map volume node."""
    if node is None or node.GetImageData() is None:
        raise InputError("no volume selected, or the selected volume has no voxels")
    array = np.array(slicer.util.arrayFromVolume(node), copy=True)
    if array.ndim != 3:
        raise InputError(f"volume {node.GetName()!r} is not a scalar volume (array shape {array.shape})")
    spacing, origin, direction = geometry_from_ijk_to_ras(node_ijk_to_world(node))
    return Volume(array, spacing, origin, direction)


def update_node_from_volume(node, volume: Volume):
    """Put the voxels and geometry of ``volume`` into an existing volume node."""
    slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(volume.array))
    node.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(ijk_to_ras(volume)))
    return node


def add_volume_node(scene, volume: Volume, name: str, node_class: str = "vtkMRMLScalarVolumeNode",
                    window_level: Optional[tuple[float, float]] = None, display: bool = True):
    """A new volume node in ``scene`` holding ``volume`` (scalar by default, or a label map)."""
    node = scene.AddNewNodeByClass(node_class, name)
    update_node_from_volume(node, volume)
    if not display:
        return node
    node.CreateDefaultDisplayNodes()
    display = node.GetDisplayNode()
    if window_level is not None and display is not None and hasattr(display, "SetWindowLevel"):
        display.SetAutoWindowLevel(False)
        display.SetWindowLevel(*window_level)
    return node


# --- segmentations ---------------------------------------------------------------------------------
def segmentation_from_labels(scene, labels: Volume, names: Mapping[int, str], name: str,
                             colors: Optional[Mapping[int, Sequence[float]]] = None,
                             reference_volume_node=None):
    """A segmentation node with one segment per non-zero label of ``labels``.

    Segments are named from ``names`` (label -> name; unnamed labels become ``label_N``),
    coloured from ``colors`` (label -> RGB 0..1) where given, and keep their label value
    (``vtkSegment.GetLabelValue``), so :func:`labels_from_segmentation` gives the same numbers back.
    """
    label_array = np.asarray(labels.array)
    if not np.issubdtype(label_array.dtype, np.integer):
        if not np.all(np.equal(np.mod(label_array, 1), 0)):
            raise InputError("a label map must hold whole numbers (label values)")
    label_array = label_array.astype(np.int32 if label_array.max(initial=0) > 255 else np.uint8)
    labelmap = add_volume_node(scene, labels.with_array(label_array), f"{name} labels", "vtkMRMLLabelMapVolumeNode",
                               display=False)
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    segmentation.CreateDefaultDisplayNodes()
    if reference_volume_node is not None:
        segmentation.SetReferenceImageGeometryParameterFromVolumeNode(reference_volume_node)
    try:
        if not slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(labelmap, segmentation):
            raise InputError(f"could not turn the label map {name!r} into a segmentation")
    finally:
        _remove_with_display(scene, labelmap)
    segments = segmentation.GetSegmentation()
    for index in range(segments.GetNumberOfSegments()):
        segment = segments.GetNthSegment(index)
        value = int(segment.GetLabelValue())
        segment.SetName(names.get(value, f"label_{value}"))
        if colors and value in colors:
            segment.SetColor(*[float(c) for c in colors[value]][:3])
    return segmentation


def segment_ids(segmentation_node) -> list[str]:
    segments = segmentation_node.GetSegmentation()
    return [segments.GetNthSegmentID(i) for i in range(segments.GetNumberOfSegments())]


def segment_label_values(segmentation_node) -> dict[str, int]:
    """Segment ID -> the label value it exports as: the segments' own label values when these are
    distinct and positive (e.g. a segmentation imported from a label map), else 1, 2, ... in segment order."""
    ids = segment_ids(segmentation_node)
    segments = segmentation_node.GetSegmentation()
    values = [int(segments.GetSegment(i).GetLabelValue()) for i in ids]
    if len(set(values)) != len(values) or min(values, default=1) < 1:
        values = list(range(1, len(ids) + 1))
    return dict(zip(ids, values))


def label_names(node) -> dict[int, str]:
    """Label value -> name of a segmentation node (segment names) or a label map node (colour names)."""
    if node.IsA("vtkMRMLSegmentationNode"):
        segments = node.GetSegmentation()
        return {value: segments.GetSegment(i).GetName() for i, value in segment_label_values(node).items()}
    present = [int(v) for v in np.unique(slicer.util.arrayFromVolume(node)) if v > 0]
    return {v: label_names_from_labelmap_node(node).get(v, f"label_{v}") for v in present}


def labels_from_segmentation(segmentation_node, reference_volume_node=None) -> tuple[Volume, dict[int, str]]:
    """A label map on the reference volume's grid and its names (label -> segment name).

    Without a reference volume, the segmentation's own reference geometry is used. Label values
    as :func:`segment_label_values`; where segments overlap, the later segment wins.
    """
    value_of = segment_label_values(segmentation_node)
    ids, values = list(value_of), list(value_of.values())
    segments = segmentation_node.GetSegmentation()
    scene = segmentation_node.GetScene()
    temporary = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "__export__")
    geometry_node = None
    try:
        if reference_volume_node is None:
            geometry_node = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "__geometry__")
            if not slicer.vtkSlicerSegmentationsModuleLogic.ExportAllSegmentsToLabelmapNode(
                    segmentation_node, geometry_node, slicer.vtkSegmentation.EXTENT_REFERENCE_GEOMETRY):
                raise InputError(f"segmentation {segmentation_node.GetName()!r} has no geometry; "
                                 "choose a reference volume")
            reference_volume_node = geometry_node
        reference = volume_from_node(reference_volume_node)
        labels = np.zeros(reference.array.shape, np.uint8 if max(values, default=0) < 256 else np.int32)
        for segment_id, value in zip(ids, values):
            exported = slicer.vtkSlicerSegmentationsModuleLogic.ExportSegmentsToLabelmapNode(
                segmentation_node, [segment_id], temporary, reference_volume_node)
            if not exported:
                raise InputError(f"could not export segment {segments.GetSegment(segment_id).GetName()!r}")
            labels[slicer.util.arrayFromVolume(temporary) > 0] = value
    finally:
        _remove_with_display(scene, temporary)
        if geometry_node is not None:
            _remove_with_display(scene, geometry_node)
    return reference.with_array(labels), label_names(segmentation_node)


def label_names_from_labelmap_node(node) -> dict[int, str]:
    """Names of the labels present in a label map node, from its colour table (empty when it has none)."""
    display = node.GetDisplayNode()
    colors = display.GetColorNode() if display is not None else None
    present = [int(v) for v in np.unique(slicer.util.arrayFromVolume(node)) if v > 0]
    if colors is None:
        return {}
    return {v: colors.GetColorName(v) for v in present if v < colors.GetNumberOfColors() and colors.GetColorName(v)}


def labels_from_node(node, reference_volume_node=None) -> tuple[Volume, dict[int, str]]:
    """A label map and its names from a label map volume node or a segmentation node, on the reference
    volume's grid when one is given (a label map on another grid is resampled, nearest neighbour)."""
    if node is None:
        raise InputError("choose a label map or a segmentation")
    if node.IsA("vtkMRMLSegmentationNode"):
        return labels_from_segmentation(node, reference_volume_node)
    labels = volume_from_node(node)
    if reference_volume_node is not None:
        reference = volume_from_node(reference_volume_node)
        if not reference.same_grid(labels):
            labels = reference.with_array(labels_on_reference_grid(reference, labels, resample=True))
    return labels, label_names(node)


def _remove_with_display(scene, node) -> None:
    display = node.GetDisplayNode()
    if display is not None:
        scene.RemoveNode(display)
    scene.RemoveNode(node)
