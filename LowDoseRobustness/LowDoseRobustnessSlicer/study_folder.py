"""A study folder written by the engine (``lowdose study``), loaded into a scene.

Everything comes from :class:`contract.StudyLayout` and the engine's ``results.csv``: the rows name
the cells (case, reconstruction, model, dose, realization, reference), the layout their files. For
one case it loads one volume per reconstruction and dose (and the full-dose reference), one
segmentation per model on each, and one disagreement segmentation per low-dose comparison; for the
whole study the metrics table (``results.csv`` cell for cell) and the plot of Dice against dose.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from LowDoseRobustnessLib.contract import REFERENCE_DOSE, StudyLayout
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.labels import read_label_names
from LowDoseRobustnessLib.io.volumes import read_volume

from LowDoseRobustnessSlicer import nodes, overlays, tables

WINDOW_LEVEL_HU = (400.0, 40.0)
"""Soft-tissue window for every simulated volume, so noise compares fairly across doses."""


@dataclass(frozen=True)
class Cell:
    """One simulated scan of the study: a case at a dose through a reconstruction (one noise realization)."""

    case: str
    reconstruction: str
    dose: float
    realization: int = 0

    @property
    def label(self) -> str:
        realization = f", realization {self.realization}" if self.realization else ""
        return f"{self.reconstruction} {self.dose:.0%} dose{realization}"


@dataclass
class StudyNodes:
    """The nodes of a loaded study (keys: :class:`Cell`, and the model spec for segmentations)."""

    layout: StudyLayout
    case: str
    models: list[str]
    volumes: dict = field(default_factory=dict)          # Cell -> vtkMRMLScalarVolumeNode
    segmentations: dict = field(default_factory=dict)    # (Cell, model) -> vtkMRMLSegmentationNode
    disagreements: dict = field(default_factory=dict)    # (Cell, model) -> vtkMRMLSegmentationNode (vs full dose)
    table_node: object = None                            # vtkMRMLTableNode: results.csv
    chart_node: object = None                            # vtkMRMLPlotChartNode: Dice vs dose
    rows: list = field(default_factory=list)             # results.csv rows (text cells)

    def low_dose_cells(self) -> list[Cell]:
        """Cells that have a disagreement map, lowest dose first (what the dose/reconstruction selector offers)."""
        cells = {cell for cell, _ in self.disagreements}
        return sorted(cells, key=lambda c: (c.dose, c.reconstruction, c.realization))

    def full_dose(self, cell: Cell) -> Cell:
        return Cell(cell.case, cell.reconstruction, REFERENCE_DOSE, 0)


def study_cases(rows) -> list[str]:
    return list(dict.fromkeys(row["case"] for row in rows))


def load_study(scene, folder, case: Optional[str] = None) -> StudyNodes:
    """Load the study in ``folder``: the table and plot of every case, the images of ``case`` (default: the first)."""
    layout = StudyLayout(folder)
    _, rows = tables.read_csv_rows(layout.results_csv)
    if not rows:
        raise InputError(f"{layout.results_csv} holds no results")
    cases = study_cases(rows)
    case = cases[0] if case is None else str(case)
    if case not in cases:
        raise InputError(f"the study in {layout.root} has no case {case!r}; it has {', '.join(cases)}")
    own = [row for row in rows if row["case"] == case]
    study = StudyNodes(layout, case, list(dict.fromkeys(row["model"] for row in own)), rows=rows)
    cells = {Cell(case, row["reconstruction"], float(row["dose"]), int(row["realization"])) for row in own}
    cells |= {study.full_dose(cell) for cell in cells}
    for cell in sorted(cells, key=lambda c: (c.reconstruction, -c.dose, c.realization)):
        _load_cell(scene, study, cell)
    study.table_node = tables.table_node_from_csv(scene, layout.results_csv, f"{layout.root.name} results")
    robustness = [row for row in rows if row["reference"] == "full_dose"] or rows
    study.chart_node, _, _ = tables.dice_plot(scene, robustness, f"{layout.root.name} Dice vs dose")
    return study


def _load_cell(scene, study: StudyNodes, cell: Cell) -> None:
    layout = study.layout
    volume = read_volume(layout.volume(cell.case, cell.reconstruction, cell.dose, cell.realization))
    volume_node = nodes.add_volume_node(scene, volume, f"{cell.case} {cell.label}", window_level=WINDOW_LEVEL_HU)
    study.volumes[cell] = volume_node
    full = study.full_dose(cell)
    for model in study.models:
        path = layout.segmentation(cell.case, cell.reconstruction, model, cell.dose, cell.realization)
        labels = read_volume(path)
        segmentation = nodes.segmentation_from_labels(scene, labels, read_label_names(path),
                                                      f"{cell.case} {cell.label} {model}", reference_volume_node=volume_node)
        segmentation.GetDisplayNode().SetVisibility(False)
        study.segmentations[(cell, model)] = segmentation
        if cell == full:
            continue
        reference = read_volume(layout.segmentation(cell.case, cell.reconstruction, model, full.dose, full.realization))
        classes = read_volume(layout.disagreement(cell.case, cell.reconstruction, model, cell.dose, cell.realization))
        overlay = overlays.disagreement_segmentation(
            scene, classes, reference.array, f"{cell.case} {cell.label} {model} vs full dose", volume_node)
        overlay.GetDisplayNode().SetVisibility(False)
        study.disagreements[(cell, model)] = overlay
