"""Results tables as MRML table nodes (units and meanings from the contract) and Dice against dose as a plot.

The engine's ``results.csv`` is read with the standard library, cell by cell, so the table node
holds exactly what the file holds: text columns (:data:`contract.TEXT_COLUMNS`) as strings, label
values and realizations as integers, everything else as doubles (empty cells NaN, ``inf`` kept).
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np
import slicer
import vtk

from LowDoseRobustnessLib.contract import COLUMNS, TEXT_COLUMNS
from LowDoseRobustnessLib.errors import InputError

INTEGER_COLUMNS = ("label", "realization")
PLOT_COLORS = ((0.12, 0.47, 0.71), (1.0, 0.50, 0.05), (0.17, 0.63, 0.17), (0.84, 0.15, 0.16), (0.58, 0.40, 0.74),
               (0.55, 0.34, 0.29), (0.89, 0.47, 0.76), (0.50, 0.50, 0.50), (0.74, 0.74, 0.13), (0.09, 0.75, 0.81))
"""Line colours of the Dice plot, in turn (a colour-blind-safe qualitative palette)."""


def read_csv_rows(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """Column names and rows (text cells) of a CSV table such as ``results.csv``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"results table not found: {path}")
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        return list(reader.fieldnames or []), list(reader)


def _number(value) -> float:
    return float("nan") if value in ("", None) else float(value)


def _column_kind(column: str, values: Sequence) -> str:
    """string, int or double: the contract's kind for known columns, else what every value allows."""
    if column in TEXT_COLUMNS:
        return "string"
    filled = [v for v in values if v not in ("", None)]
    try:
        numbers = [float(v) for v in filled]
    except (TypeError, ValueError):
        return "string"
    if column in INTEGER_COLUMNS and all(n.is_integer() for n in numbers) and len(filled) == len(values):
        return "int"
    return "double"


def table_node_from_rows(scene, rows: Sequence[Mapping], name: str, columns: Optional[Sequence[str]] = None,
                         table_node=None):
    """A ``vtkMRMLTableNode`` with one row per mapping; known columns carry unit and description.

    ``columns``: their order (default: as they first appear in the rows).
    """
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    table_node = table_node or scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    table_node.RemoveAllColumns()
    table = table_node.GetTable()
    for column in columns:
        values = [row.get(column, "") for row in rows]
        kind = _column_kind(column, values)
        array = {"double": vtk.vtkDoubleArray, "int": vtk.vtkIntArray, "string": vtk.vtkStringArray}[kind]()
        array.SetName(column)
        convert = {"double": _number, "int": lambda v: int(float(v)), "string": lambda v: "" if v is None else str(v)}
        for value in values:
            array.InsertNextValue(convert[kind](value))
        table.AddColumn(array)
        if column in COLUMNS:
            unit, description = COLUMNS[column]
            table_node.SetColumnUnitLabel(column, unit)
            table_node.SetColumnDescription(column, description)
    table.Modified()
    table_node.Modified()
    return table_node


def table_node_from_csv(scene, path: str | Path, name: str, table_node=None):
    """A table node holding a CSV table (e.g. the engine's ``results.csv``) cell for cell."""
    columns, rows = read_csv_rows(path)
    return table_node_from_rows(scene, rows, name, columns, table_node)


def rows_from_table_node(table_node) -> list[dict]:
    """The table's rows as dicts (numbers as float/int, strings as str)."""
    table = table_node.GetTable()
    columns = [table.GetColumn(c) for c in range(table.GetNumberOfColumns())]
    return [{column.GetName(): column.GetValue(r) for column in columns} for r in range(table.GetNumberOfRows())]


def dice_plot(scene, rows: Sequence[Mapping], name: str = "Dice vs dose"):
    """A plot chart of Dice against dose (%), one line per structure (and reconstruction, when several).

    ``rows``: results rows of one reference (``dose`` as a fraction, ``dice``, ``name``/``label``,
    ``reconstruction``); several noise realizations of a dose give their mean Dice. Builds a wide table
    ``dose_percent, <line>...`` (one row per dose) that the series read. Returns
    ``(chart_node, wide_table_node, series_nodes)``.
    """
    several = len({row.get("reconstruction", "") for row in rows}) > 1

    def line(row) -> str:
        structure = str(row.get("name") or f"label_{row['label']}")
        return f"{structure} ({row['reconstruction']})" if several else structure

    doses = sorted({round(100 * float(row["dose"]), 4) for row in rows})
    lines = list(dict.fromkeys(line(row) for row in rows))
    dice: dict[tuple, list[float]] = {}
    for row in rows:
        dice.setdefault((round(100 * float(row["dose"]), 4), line(row)), []).append(_number(row["dice"]))
    wide_rows = [{"dose_percent": dose, **{item: float(np.nanmean(dice[dose, item])) if (dose, item) in dice
                                           else float("nan") for item in lines}} for dose in doses]
    table_node = table_node_from_rows(scene, wide_rows, f"{name} table", ["dose_percent", *lines])
    table_node.SetColumnUnitLabel("dose_percent", "%")
    chart = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", name)
    chart.SetTitle(name)
    chart.SetXAxisTitle("dose (% of full dose)")
    chart.SetYAxisTitle("Dice")
    series_nodes = []
    for index, item in enumerate(lines):
        series = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", item)
        series.SetAndObserveTableNodeID(table_node.GetID())
        series.SetXColumnName("dose_percent")
        series.SetYColumnName(item)
        series.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter)
        series.SetLineStyle(slicer.vtkMRMLPlotSeriesNode.LineStyleSolid)
        series.SetMarkerStyle(slicer.vtkMRMLPlotSeriesNode.MarkerStyleCircle)
        series.SetColor(*PLOT_COLORS[index % len(PLOT_COLORS)])
        chart.AddAndObservePlotSeriesNodeID(series.GetID())
        series_nodes.append(series)
    return chart, table_node, series_nodes
