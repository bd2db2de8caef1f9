"""LowDoseRobustness: how robust is a CT segmentation model to lower radiation dose?

Thin Slicer module: the GUI state lives in a parameter node, the work in
:class:`LowDoseRobustnessSlicer.logic.StudyLogic` (no Qt; tested with slicer-core) and
the ``lowdose`` command line run in a background process (LowDoseRobustnessLib).
"""
import logging
import pathlib
from typing import Annotated

import qt
import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.util import VTKObservationMixin

from LowDoseRobustnessSlicer import dependencies
from LowDoseRobustnessSlicer.logic import StudyLogic, agreement_summary
from LowDoseRobustnessSlicer.module_widget import ModuleWidgetMixin
from LowDoseRobustnessLib.contract import BACKEND_CHOICES, GEOMETRIES, RECONSTRUCTIONS
from LowDoseRobustnessSlicer.study import selected_doses

POLL_INTERVAL_MS = 200


class LowDoseRobustness(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Low-Dose Robustness")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["LowDoseRobustness developers"]
        self.parent.helpText = _(
            "Simulates lower-dose CT acquisitions of a volume in the projection domain, segments every dose level "
            "with a model (built-in, TotalSegmentator, nnU-Net, MONAI) and compares each with the reference: "
            "Dice, HD95 (mm), volumes in a table, Dice against dose in a plot, and where the low-dose result "
            "missed (red) or added (blue) tissue as a segmentation.")
        self.parent.acknowledgementText = _(
            "Example data: TotalSegmentator test files (Apache-2.0; images CC-BY-4.0).")


@parameterNodeWrapper
class LowDoseRobustnessParameterNode:
    """GUI state. Doses are four switches plus free text (percent); the reference is the 100 % reconstruction."""

    inputVolume: vtkMRMLScalarVolumeNode
    groundTruth: vtkMRMLSegmentationNode
    dose20: bool = True
    dose40: bool = True
    dose60: bool = False
    dose80: bool = False
    otherDoses: str = ""
    seed: Annotated[int, WithinRange(0, 2**31 - 1)] = 0
    incidentFlux: Annotated[float, WithinRange(1.0e3, 1.0e7)] = 1.0e5
    geometry: Annotated[str, Choice(list(GEOMETRIES.names))] = "clinical"
    backend: Annotated[str, Choice(list(BACKEND_CHOICES))] = "auto"
    reconstruction: Annotated[str, Choice(list(RECONSTRUCTIONS.names))] = "fbp"
    model: str = "builtin"
    outputFolder: pathlib.Path
    writeReport: bool = False


class LowDoseRobustnessWidget(ModuleWidgetMixin, ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        timer = qt.QTimer()
        timer.setInterval(POLL_INTERVAL_MS)
        self.setupModuleWidget(self.resourcePath("UI/LowDoseRobustness.ui"), LowDoseRobustnessLogic(), timer,
                               lambda message, log: slicer.util.errorDisplay(message, detailedText=log))
        self.ui.runButton.connect("clicked(bool)", lambda: self.onRun(("simulate", "segment", "compare", "report")))
        self.ui.simulateButton.connect("clicked(bool)", lambda: self.onRun(("simulate",)))

    def chooseDefaultInputs(self, parameterNode) -> None:
        if not parameterNode.inputVolume:
            first = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if first:
                parameterNode.inputVolume = first

    def updateButtons(self, caller=None, event=None) -> None:
        ready = bool(self._parameterNode and self._parameterNode.inputVolume) and not self.jobRunning
        self.ui.runButton.enabled = ready
        self.ui.simulateButton.enabled = ready
        self.ui.cancelButton.enabled = self.jobRunning

    def onRun(self, steps) -> None:
        p = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Cannot start the study."), waitCursor=True):
            model = p.model.strip() or "builtin"
            steps = tuple(step for step in steps if step != "report" or p.writeReport)
            needed = dependencies.requirements_for(model if "segment" in steps else "builtin")
            if not self.ensurePackages(needed):
                return
            folder = self.chosenFolder(p.outputFolder)
            doses = selected_doses({20: p.dose20, 40: p.dose40, 60: p.dose60, 80: p.dose80}, p.otherDoses)
            arguments = dict(doses=doses, model=model, ground_truth=p.groundTruth, output_folder=folder,
                             seed=p.seed, incident_flux=p.incidentFlux, geometry=p.geometry, backend=p.backend,
                             reconstruction=p.reconstruction, steps=steps,
                             callbacks=self.panel.callbacks(self.onStudyDone))
            study = self.startJob(
                lambda overwrite: self.logic.run_study(p.inputVolume, overwrite=overwrite, **arguments),
                lambda reason: slicer.util.confirmYesNoDisplay(_("{reason}\n\nReplace these files?").format(reason=reason)),
                lambda study: _("Running in {folder}").format(folder=study.paths.folder))
            if study is not None and folder is None:
                p.outputFolder = pathlib.Path(study.paths.folder)

    def onStudyDone(self, study) -> None:
        self.ui.statusLabel.text = agreement_summary(study.results.metrics_rows) or _("Done.")
        self.logic.showResults(study)
        if study.results.report_path is not None:
            qt.QDesktopServices.openUrl(qt.QUrl.fromLocalFile(str(study.results.report_path)))


class LowDoseRobustnessLogic(StudyLogic, ScriptedLoadableModuleLogic):
    """The module logic: :class:`StudyLogic` on ``slicer.mrmlScene`` plus the parameter node and views.

    Python console / batch mode::

        logic = slicer.util.getModuleLogic("LowDoseRobustness")
        study = logic.run_study(slicer.util.getNode("CT"), doses=[0.2, 0.4], model="builtin",
                                output_folder="/tmp/study", wait_for_completion=True)
    """

    def __init__(self) -> None:
        # StudyLogic first in the bases: ScriptedLoadableModuleLogic.__init__ calls super().__init__() without a scene
        StudyLogic.__init__(self, slicer.mrmlScene)
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return LowDoseRobustnessParameterNode(super().getParameterNode())

    def showResults(self, study) -> None:
        """Lowest dose in the slice views with its disagreement map; table and plot in the layout."""
        results = study.results
        if results.volume_nodes:
            lowest = min(results.volume_nodes)
            slicer.util.setSliceViewerLayers(background=results.volume_nodes[lowest], fit=True)
        if results.table_node is not None:
            layoutManager = slicer.app.layoutManager()
            if layoutManager is not None:
                layoutManager.setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpPlotTableView)
            selection = slicer.app.applicationLogic().GetSelectionNode()
            selection.SetActiveTableID(results.table_node.GetID())
            slicer.app.applicationLogic().PropagateTableSelection()
        if results.chart_node is not None:
            slicer.modules.plots.logic().ShowChartInLayout(results.chart_node)


class LowDoseRobustnessTest(ScriptedLoadableModuleTest):
    """Runs the real logic (simulator and built-in model) on the TotalSegmentator example CT."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_simulate_on_example_ct()
        self.setUp()
        self.test_study_on_example_ct()

    def _exampleCT(self):
        import SampleData

        # The 30-slice TotalSegmentator example (3 mm); downloaded once into Slicer's cache.
        return SampleData.downloadFromURL(
            nodeNames="example_ct_sm",
            fileNames="example_ct_sm.nii.gz",
            uris="https://github.com/wasserth/TotalSegmentator/raw/master/tests/reference_files/example_ct_sm.nii.gz")[0]

    def test_simulate_on_example_ct(self):
        import time

        import numpy as np

        from LowDoseRobustnessSlicer import nodes

        ct = self._exampleCT()
        logic = LowDoseRobustnessLogic()
        start = time.time()
        study = logic.run_study(ct, doses=[0.25], geometry="fast", steps=["simulate"],
                                output_folder=slicer.app.temporaryPath + "/LowDoseRobustnessTest/simulate",
                                overwrite=True, wait_for_completion=True)
        logging.info(f"simulate 25 % + 100 % of the example CT: {time.time() - start:.1f} s")
        low = nodes.volume_from_node(study.results.volume_nodes[0.25])
        self.assertTrue(low.same_grid(nodes.volume_from_node(ct)))
        self.assertGreater(np.std(low.array), 0)
        self.delayDisplay("Simulation test passed")

    def test_study_on_example_ct(self):
        import time

        ct = self._exampleCT()
        logic = LowDoseRobustnessLogic()
        start = time.time()
        study = logic.run_study(ct, doses=[0.25], model="builtin", geometry="fast",
                                output_folder=slicer.app.temporaryPath + "/LowDoseRobustnessTest/study",
                                overwrite=True, wait_for_completion=True)
        logging.info(f"study (simulate, segment, compare) of the example CT: {time.time() - start:.1f} s")
        results = study.results
        self.assertIn(0.25, results.segmentation_nodes)
        self.assertIsNotNone(results.table_node)
        self.assertGreater(results.table_node.GetNumberOfRows(), 0)
        self.assertEqual(results.chart_node.GetNumberOfPlotSeriesNodes(),
                         len({row["name"] for row in results.metrics_rows}))
        self.assertIn(0.25, results.disagreement_nodes)
        logic.showResults(study)
        self.delayDisplay("Study test passed")
