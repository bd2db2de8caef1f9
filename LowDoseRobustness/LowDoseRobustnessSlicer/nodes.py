"""MRML nodes <-> the Lib's arrays and :class:`Volume` (works with slicer-core; no Qt, no slicer.app).

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

from LowDoseRobustnessLib.volume import Volume

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])

MISSED, ADDED = 1, 2
DISAGREEMENT_SEGMENTS = {
    MISSED: ("missed at low dose", (0.90, 0.10, 0.10)),   # red: in the reference, not at low dose
    ADDED: ("added at low dose", (0.10, 0.35, 0.95)),     # blue: at low dose, not in the reference
}
AGREE_SEGMENT = ("agree", (0.15, 0.80, 0.25))             # green: in both


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


def labels_from_segmentation(segmentation_node, reference_volume_node=None) -> tuple[Volume, dict[int, str]]:
    """A label map on the reference volume's grid and its names (label -> segment name).

    Without a reference volume, the segmentation's own reference geometry is used.

    Label values are the segments' own label values when these are distinct and positive
    (e.g. a segmentation imported from a label map), else 1, 2, ... in segment order.
    Where segments overlap, the later segment wins.
    """
    ids = segment_ids(segmentation_node)
    segments = segmentation_node.GetSegmentation()
    values = [int(segments.GetSegment(i).GetLabelValue()) for i in ids]
    if len(set(values)) != len(values) or min(values, default=1) < 1:
        values = list(range(1, len(ids) + 1))
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
    names = {value: segments.GetSegment(i).GetName() for i, value in zip(ids, values)}
    return reference.with_array(labels), names


def label_names_from_labelmap_node(node) -> dict[int, str]:
    """Names of the labels present in a label map node, from its colour table (empty when it has none)."""
    display = node.GetDisplayNode()
    colors = display.GetColorNode() if display is not None else None
    present = [int(v) for v in np.unique(slicer.util.arrayFromVolume(node)) if v > 0]
    if colors is None:
        return {}
    return {v: colors.GetColorName(v) for v in present if v < colors.GetNumberOfColors() and colors.GetColorName(v)}


def labels_from_node(node, reference_volume_node=None) -> tuple[Volume, dict[int, str]]:
    """A label map and its names from a label map volume node or a segmentation node."""
    if node is None:
        raise InputError("choose a label map or a segmentation")
    if node.IsA("vtkMRMLSegmentationNode"):
        return labels_from_segmentation(node, reference_volume_node)
    return volume_from_node(node), label_names_from_labelmap_node(node)


def disagreement_segmentation(scene, classes: Volume, name: str, agree_mask: Optional[np.ndarray] = None,
                              reference_volume_node=None):
    """The disagreement map as a coloured segmentation: missed (class 1) red, added (class 2) blue.

    ``classes`` follows ``lowdose compare --disagreement``: 0 agree/background, 1 only in the
    reference (missed at low dose), 2 only in the low-dose result (added). ``agree_mask``
    (voxels labelled alike in both, e.g. ``(ref == test) & (ref > 0)``) adds a green "agree" segment.
    """
    class_array = np.asarray(classes.array)
    unknown = set(np.unique(class_array).tolist()) - {0, MISSED, ADDED}
    if unknown:
        raise InputError(f"a disagreement map holds classes 0, 1, 2; found {sorted(unknown)}")
    combined = class_array.astype(np.uint8)
    names = {value: label for value, (label, _) in DISAGREEMENT_SEGMENTS.items()}
    colors = {value: color for value, (_, color) in DISAGREEMENT_SEGMENTS.items()}
    if agree_mask is not None:
        agree_value = 3
        combined = np.where((combined == 0) & np.asarray(agree_mask, bool), agree_value, combined).astype(np.uint8)
        names[agree_value], colors[agree_value] = AGREE_SEGMENT
    return segmentation_from_labels(scene, classes.with_array(combined), names, name, colors, reference_volume_node)


def _remove_with_display(scene, node) -> None:
    display = node.GetDisplayNode()
    if display is not None:
        scene.RemoveNode(display)
    scene.RemoveNode(node)


# --- tables and plots ------------------------------------------------------------------------------
METRIC_COLUMNS = {
    # column -> (kind, unit, description)
    "dose_percent": ("double", "%", "simulated dose as a percentage of the original scan"),
    "label": ("int", "", "label value"),
    "name": ("string", "", "structure name"),
    "dice": ("double", "", "Dice similarity coefficient, low dose vs reference"),
    "hd95_mm": ("double", "mm", "95th-percentile Hausdorff distance (max of both directed 95th percentiles)"),
    "volume_ref_ml": ("double", "ml", "volume in the reference segmentation"),
    "volume_test_ml": ("double", "ml", "volume in the low-dose segmentation"),
    "r_eff_mm": ("double", "mm", "effective radius of the reference structure"),
}


def _column_kind(column: str, values: Sequence) -> str:
    """double/int/string for a column: the known kind when every value fits it, else what the values allow."""
    filled = [v for v in values if v not in ("", None)]

    def fits(convert) -> bool:
        try:
            [convert(v) for v in filled]
            return True
        except (TypeError, ValueError):
            return False

    known = METRIC_COLUMNS.get(column, ("",))[0]
    if known == "string":
        return "string"
    if known == "int" and fits(lambda v: int(float(v))) and all(float(v).is_integer() for v in filled):
        return "int"
    return "double" if fits(float) else "string"


def _as_float(value) -> float:
    return float("nan") if value in ("", None) else float(value)


def table_node_from_rows(scene, rows: Sequence[Mapping], name: str, columns: Optional[Sequence[str]] = None,
                         table_node=None):
    """A ``vtkMRMLTableNode`` with one row per mapping (numbers as double/int columns, with units).

    Known metric columns (:data:`METRIC_COLUMNS`) come first in that order and carry unit and
    description; empty cells of number columns become NaN.
    """
    if columns is None:
        present = {key for row in rows for key in row}
        known = [c for c in METRIC_COLUMNS if c in present]
        columns = list(dict.fromkeys(known + [c for row in rows for c in row if c not in METRIC_COLUMNS]))
    table_node = table_node or scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    table_node.RemoveAllColumns()
    table = table_node.GetTable()
    for column in columns:
        values = [row.get(column, "") for row in rows]
        kind = _column_kind(column, values)
        array = {"double": vtk.vtkDoubleArray, "int": vtk.vtkIntArray, "string": vtk.vtkStringArray}[kind]()
        array.SetName(column)
        for value in values:
            if kind == "string":
                array.InsertNextValue("" if value is None else str(value))
            elif kind == "int":
                array.InsertNextValue(int(float(value)))
            else:
                array.InsertNextValue(_as_float(value))
        table.AddColumn(array)
        if column in METRIC_COLUMNS:
            table_node.SetColumnUnitLabel(column, METRIC_COLUMNS[column][1])
            table_node.SetColumnDescription(column, METRIC_COLUMNS[column][2])
    table.Modified()
    table_node.Modified()
    return table_node


def rows_from_table_node(table_node) -> list[dict]:
    """The table's rows as dicts (numbers as float/int, strings as str)."""
    table = table_node.GetTable()
    columns = [table.GetColumn(c) for c in range(table.GetNumberOfColumns())]
    rows = []
    for r in range(table.GetNumberOfRows()):
        rows.append({column.GetName(): column.GetValue(r) for column in columns})
    return rows


PLOT_COLORS = ((0.12, 0.47, 0.71), (1.0, 0.50, 0.05), (0.17, 0.63, 0.17), (0.84, 0.15, 0.16), (0.58, 0.40, 0.74),
               (0.55, 0.34, 0.29), (0.89, 0.47, 0.76), (0.50, 0.50, 0.50), (0.74, 0.74, 0.13), (0.09, 0.75, 0.81))
"""Line colours of the Dice plot, in turn (a colour-blind-safe qualitative palette)."""


def dice_plot(scene, rows: Sequence[Mapping], name: str = "Dice vs dose"):
    """A plot chart of Dice against dose (%), one line per structure.

    Builds a wide table ``dose_percent, <structure>...`` (one row per dose) that the
    series read from. Returns ``(chart_node, wide_table_node, series_nodes)``.
    """
    doses = sorted({float(row["dose_percent"]) for row in rows})
    structures = list(dict.fromkeys(str(row.get("name") or f"label_{row['label']}") for row in rows))
    dice = {(float(row["dose_percent"]), str(row.get("name") or f"label_{row['label']}")): _as_float(row["dice"])
            for row in rows}
    wide_rows = [{"dose_percent": dose, **{s: dice.get((dose, s), float("nan")) for s in structures}}
                 for dose in doses]
    table_node = table_node_from_rows(scene, wide_rows, f"{name} table", ["dose_percent", *structures])
    chart = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", name)
    chart.SetTitle(name)
    chart.SetXAxisTitle("dose (% of original)")
    chart.SetYAxisTitle("Dice")
    series_nodes = []
    for index, structure in enumerate(structures):
        series = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", structure)
        series.SetAndObserveTableNodeID(table_node.GetID())
        series.SetXColumnName("dose_percent")
        series.SetYColumnName(structure)
        series.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter)
        series.SetLineStyle(slicer.vtkMRMLPlotSeriesNode.LineStyleSolid)
        series.SetMarkerStyle(slicer.vtkMRMLPlotSeriesNode.MarkerStyleCircle)
        series.SetColor(*PLOT_COLORS[index % len(PLOT_COLORS)])
        chart.AddAndObservePlotSeriesNodeID(series.GetID())
        series_nodes.append(series)
    return chart, table_node, series_nodes
