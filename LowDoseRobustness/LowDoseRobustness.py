"""LowDoseRobustness: how robust is a CT segmentation model to lower radiation dose? (Slicer 5.4 or later)

Thin Slicer module: the GUI state lives in a parameter node; the work in
:class:`LowDoseRobustnessSlicer.logic.StudyLogic` (no Qt; tested with slicer-core), which runs the
study engine (``lowdose study``) in a background process and loads the folder it writes, and compares
any two segmentations of the scene.
"""
import pathlib
from typing import Annotated, Optional

import qt
import slicer
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, Validator, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
from slicer.util import VTKObservationMixin

from LowDoseRobustnessLib.contract import (BACKEND_CHOICES, DEFAULT_INCIDENT_FLUX, GEOMETRIES, INCIDENT_FLUX_AUTO,
                                           MODULE_RESOURCES, RECONSTRUCTIONS, SAMPLE_CT, SAMPLE_LABELS)
from LowDoseRobustnessSlicer import dependencies, overlays, views
from LowDoseRobustnessSlicer.choices import join_reconstructions, parse_reconstructions, selected_doses
from LowDoseRobustnessSlicer.logic import SAMPLE_NODE_NAMES, StudyLogic
from LowDoseRobustnessSlicer.module_widget import ModuleWidgetMixin

POLL_INTERVAL_MS = 200
CONTRIBUTORS = ["LowDoseRobustness developers (LowDoseRobustness project)"]


class LowDoseRobustness(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Low-Dose Robustness")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = CONTRIBUTORS
        self.parent.helpText = _(
            "Simulates lower-dose CT acquisitions of a volume in the projection domain, reconstructs them, segments "
            "every dose level with a model (built-in, TotalSegmentator, nnU-Net, MONAI) and compares each with the "
            "full-dose result: Dice, HD95 (mm), surface Dice and volumes in a table, Dice against dose in a plot, and "
            "where the low-dose result missed (red), added (blue) or relabelled (yellow) tissue. Also compares any "
            "two segmentations of the scene. Needs Slicer 5.4 or later.")
        self.parent.acknowledgementText = _(
            "Method: Tsanda et al. 2024. Example data: TotalSegmentator test files (Apache-2.0; images CC-BY-4.0).")
        slicer.app.connect("startupCompleted()", registerSampleData)


def registerSampleData(sampleDataLogic=None):
    """The bundled sample CT and its labels, one click in the Sample Data module (files are local)."""
    if sampleDataLogic is None:
        import SampleData

        sampleDataLogic = SampleData.SampleDataLogic
    sampleDataLogic.registerCustomSampleDataSource(
        category="Low-Dose Robustness", sampleName="LowDoseRobustnessSample",
        thumbnailFileName=str(MODULE_RESOURCES / "Icons" / "LowDoseRobustness.png"),
        uris=[SAMPLE_CT.as_uri(), SAMPLE_LABELS.as_uri()], fileNames=[SAMPLE_CT.name, SAMPLE_LABELS.name],
        nodeNames=SAMPLE_NODE_NAMES, loadFileTypes=["VolumeFile", "SegmentationFile"])


class ReconstructionList(Validator):
    """Comma-separated names of :data:`RECONSTRUCTIONS`, at least one."""

    def validate(self, value) -> None:
        if not parse_reconstructions(str(value)):
            raise ValueError("choose at least one reconstruction")


@parameterNodeWrapper
class LowDoseRobustnessParameterNode:
    """GUI state. Doses are four switches plus free text (percent); reconstructions come from the catalogue."""

    inputVolume: vtkMRMLScalarVolumeNode
    groundTruth: Optional[vtkMRMLSegmentationNode]
    dose20: bool = True
    dose40: bool = True
    dose60: bool = False
    dose80: bool = False
    otherDoses: str = ""
    reconstructions: Annotated[str, ReconstructionList()] = "fbp"
    seed: Annotated[int, WithinRange(0, 2**31 - 1)] = 0
    fitIncidentFlux: bool = True
    incidentFlux: Annotated[float, WithinRange(1.0e3, 1.0e7)] = DEFAULT_INCIDENT_FLUX
    geometry: Annotated[str, Choice(list(GEOMETRIES.names))] = "clinical"
    backend: Annotated[str, Choice(list(BACKEND_CHOICES))] = "auto"
    model: str = "builtin"
    outputFolder: pathlib.Path
    compareReference: vtkMRMLSegmentationNode
    compareTest: vtkMRMLSegmentationNode
    compareVolume: vtkMRMLScalarVolumeNode
    showAgreement: bool = False


class LowDoseRobustnessWidget(ModuleWidgetMixin, ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self.study = None
        self.comparison = None        # (table node, overlay, reference segmentation) of the last comparison

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        timer = qt.QTimer()
        timer.setInterval(POLL_INTERVAL_MS)
        self.reconstructionBoxes = {}
        self.setupModuleWidget(self.resourcePath("UI/LowDoseRobustness.ui"), LowDoseRobustnessLogic(), timer,
                               self.onJobFailed)
        self.addReconstructionBoxes()
        self.ui.runButton.connect("clicked(bool)", self.onRun)
        self.ui.loadStudyButton.connect("clicked(bool)", self.onLoadStudy)
        self.ui.openReportButton.connect("clicked(bool)", self.onOpenReport)
        self.ui.compareButton.connect("clicked(bool)", self.onCompare)
        self.ui.resultComboBox.connect("currentIndexChanged(int)", self.onResultChosen)
        self.ui.metricsTableView.connect("clicked(QModelIndex)", self.onTableClicked)
        self.updateButtons()

    def addReconstructionBoxes(self) -> None:
        for name in RECONSTRUCTIONS:
            box = qt.QCheckBox(name)
            box.connect("toggled(bool)", self.onReconstructionToggled)
            self.ui.reconstructionsFrame.layout().addWidget(box)
            self.reconstructionBoxes[name] = box

    def chooseDefaultInputs(self, parameterNode) -> None:
        if not parameterNode.inputVolume:
            first = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if first:
                parameterNode.inputVolume = first

    def updateButtons(self, caller=None, event=None) -> None:
        p = self._parameterNode
        self.ui.runButton.enabled = bool(p and p.inputVolume) and not self.jobRunning
        self.ui.cancelButton.enabled = self.jobRunning
        self.ui.compareButton.enabled = bool(p and p.compareReference and p.compareTest and p.compareVolume)
        self.ui.openReportButton.enabled = bool(self.study and self.study.layout.report_html.exists())
        if p:
            chosen = set(parse_reconstructions(p.reconstructions))
            for name, box in self.reconstructionBoxes.items():
                box.blockSignals(True)
                box.checked = name in chosen
                box.blockSignals(False)
            for overlay in self.shownOverlays():
                overlays.set_agreement_visible(overlay, p.showAgreement)

    def shownOverlays(self):
        shown = list(self.study.disagreements.values()) if self.study else []
        return shown + ([self.comparison[1]] if self.comparison else [])

    def onReconstructionToggled(self, _checked) -> None:
        chosen = [name for name, box in self.reconstructionBoxes.items() if box.checked]
        if chosen:
            self._parameterNode.reconstructions = join_reconstructions(chosen)
        else:
            self.updateButtons()  # at least one stays ticked

    def onRun(self) -> None:
        p = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Cannot start the study."), waitCursor=True):
            reconstructions = parse_reconstructions(p.reconstructions)
            model = p.model.strip() or "builtin"
            if not self.ensurePackages(dependencies.study_packages(model, reconstructions, p.backend)):
                return
            doses = selected_doses({20: p.dose20, 40: p.dose40, 60: p.dose60, 80: p.dose80}, p.otherDoses)
            arguments = dict(doses=doses, reconstructions=reconstructions, model=model, ground_truth=p.groundTruth,
                             output_folder=self.chosenFolder(p.outputFolder), seed=p.seed,
                             incident_flux=INCIDENT_FLUX_AUTO if p.fitIncidentFlux else p.incidentFlux, geometry=p.geometry, backend=p.backend,
                             callbacks=self.panel.callbacks(self.onStudyDone))
            job = self.startJob(
                lambda overwrite: self.logic.run_study(p.inputVolume, overwrite=overwrite, **arguments),
                lambda reason: slicer.util.confirmYesNoDisplay(
                    _("{reason}\n\nRecompute the study?").format(reason=reason)),
                lambda job: _("Running in {folder}").format(folder=job.layout.root))
            if job is not None:
                p.outputFolder = pathlib.Path(job.layout.root)

    def onStudyDone(self, job) -> None:
        self.showStudy(job.study)

    def onJobFailed(self, message, log) -> None:
        """The engine's error; what it computed before (a study with failed tasks) is shown all the same."""
        job = self.panel.job
        if getattr(job, "study", None) is not None:
            self.showStudy(job.study)
        slicer.util.errorDisplay(message, detailedText=log)

    def onLoadStudy(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Cannot load the study."), waitCursor=True):
            self.showStudy(self.logic.load_study(self._parameterNode.outputFolder))

    def showStudy(self, study) -> None:
        self.study = study
        self.ui.resultComboBox.clear()
        for cell in study.low_dose_cells():
            self.ui.resultComboBox.addItem(cell.label)
        self.logic.showStudyLayout(study.table_node, study.chart_node)
        self.ui.metricsTableView.setMRMLTableNode(study.table_node)
        self.onResultChosen(0)
        self.updateButtons()

    def onResultChosen(self, index) -> None:
        cells = self.study.low_dose_cells() if self.study else []
        if 0 <= index < len(cells):
            self.logic.show_cell(self.study, cells[index])
            self.updateButtons()

    def onOpenReport(self) -> None:
        qt.QDesktopServices.openUrl(qt.QUrl.fromLocalFile(str(self.study.layout.report_html)))

    def onCompare(self) -> None:
        p = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Cannot compare the segmentations."), waitCursor=True):
            if not self.ensurePackages(dependencies.COMPARISON_PACKAGES):
                return
            table, overlay = self.logic.compare_segmentations(p.compareReference, p.compareTest, p.compareVolume,
                                                              p.showAgreement)
            self.comparison = (table, overlay, p.compareReference)
            views.show_pair(slicer.mrmlScene, p.compareVolume, None, self.shownOverlays(), overlay)
            slicer.util.resetSliceViews()
            self.ui.metricsTableView.setMRMLTableNode(table)
            self.ui.statusLabel.text = ", ".join(f"{name} {count} voxels" for name, count in
                                                 overlays.class_voxel_counts(overlay, p.compareVolume).items())

    def onTableClicked(self, index) -> None:
        """Centre the views on the clicked row's structure (for a study's row: its dose and reconstruction too)."""
        table = self.ui.metricsTableView.mrmlTableNode()
        with slicer.util.tryWithErrorDisplay(_("Cannot show this structure."), waitCursor=True):
            if self.comparison and table is self.comparison[0]:
                self.logic.centre_on_row(table, index.row(), self.comparison[2])
            elif self.study and table is self.study.table_node:
                cell = self.logic.centre_on_study_row(self.study, index.row())
                cells = self.study.low_dose_cells()
                if cell in cells:
                    self.ui.resultComboBox.currentIndex = cells.index(cell)


class LowDoseRobustnessLogic(StudyLogic, ScriptedLoadableModuleLogic):
    """The module logic: :class:`StudyLogic` on ``slicer.mrmlScene`` plus the parameter node and the layout.

    Python console / batch mode::

        logic = slicer.util.getModuleLogic("LowDoseRobustness")
        job = logic.run_study(slicer.util.getNode("CT"), doses=[0.2, 0.4], model="builtin",
                              output_folder="/tmp/study", wait_for_completion=True)
        table, overlay = logic.compare_segmentations(referenceNode, testNode, volumeNode)
    """

    def __init__(self) -> None:
        # StudyLogic first in the bases: ScriptedLoadableModuleLogic.__init__ calls super().__init__() without a scene
        StudyLogic.__init__(self, slicer.mrmlScene)
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return LowDoseRobustnessParameterNode(super().getParameterNode())

    def showStudyLayout(self, tableNode, chartNode) -> None:
        """Low and full dose side by side (linked), the results table and the Dice plot below."""
        layoutManager = slicer.app.layoutManager()
        if layoutManager is None:  # batch mode
            return
        layoutNode = layoutManager.layoutLogic().GetLayoutNode()
        if not layoutNode.IsLayoutDescription(views.STUDY_LAYOUT_ID):
            layoutNode.AddLayoutDescription(views.STUDY_LAYOUT_ID, views.STUDY_LAYOUT)
        layoutManager.setLayout(views.STUDY_LAYOUT_ID)
        selection = slicer.app.applicationLogic().GetSelectionNode()
        selection.SetActiveTableID(tableNode.GetID())
        slicer.app.applicationLogic().PropagateTableSelection()
        slicer.modules.plots.logic().ShowChartInLayout(chartNode)


class LowDoseRobustnessTest(ScriptedLoadableModuleTest):
    """Runs the real engine on the bundled sample CT, loads its folder, and compares two of its segmentations."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_study_and_comparison_on_the_sample()

    def test_study_and_comparison_on_the_sample(self):
        import logging
        import tempfile
        import time

        from LowDoseRobustnessLib.contract import DISAGREEMENT_CLASSES

        logic = LowDoseRobustnessLogic()
        ct, labels = logic.load_sample()
        self.assertEqual(logic.getParameterNode().reconstructions, "fbp")
        start = time.time()
        job = logic.run_study(ct, doses=[0.25], reconstructions=["fbp"], model="builtin", geometry="fast",
                              output_folder=tempfile.mkdtemp(prefix="LowDoseRobustnessTest-"),
                              wait_for_completion=True)
        logging.info(f"study of the sample at 25 % dose (fast geometry, fbp, built-in model): "
                     f"{time.time() - start:.1f} s")
        study = job.study
        (cell,) = study.low_dose_cells()
        self.assertEqual((cell.reconstruction, cell.dose), ("fbp", 0.25))
        self.assertEqual(len(study.volumes), 2)
        self.assertGreater(study.table_node.GetNumberOfRows(), 0)
        self.assertGreater(study.chart_node.GetNumberOfPlotSeriesNodes(), 0)
        engine_overlay = logic.show_cell(study, cell)
        self.assertTrue(engine_overlay.GetDisplayNode().GetVisibility())
        full, low = (study.segmentations[(c, "builtin")] for c in (study.full_dose(cell), cell))
        table, overlay = logic.compare_segmentations(full, low, study.volumes[cell])
        self.assertEqual(overlay.GetSegmentation().GetNumberOfSegments(), len(DISAGREEMENT_CLASSES))
        self.assertEqual(overlays.class_voxel_counts(overlay, study.volumes[cell]),
                         overlays.class_voxel_counts(engine_overlay, study.volumes[cell]))
        self.assertGreater(table.GetNumberOfRows(), 0)
        self.assertIsNotNone(logic.centre_on_row(table, 0, full))
        self.assertIsNotNone(labels)
        self.delayDisplay("Study and comparison on the sample passed")
