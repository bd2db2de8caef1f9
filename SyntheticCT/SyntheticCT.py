"""SyntheticCT: synthetic CT volumes from a label map or segmentation (Tsanda et al.).

Thin Slicer module: GUI state in a parameter node; :class:`SyntheticCTSlicer.logic.SynthLogic`
(no Qt; tested with slicer-core) runs ``lowdose synth`` in a background process.
"""
import logging
import pathlib
from typing import Annotated, Union

import qt
import slicer
import vtk
from slicer import vtkMRMLLabelMapVolumeNode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
from slicer.util import VTKObservationMixin

from LowDoseRobustnessSlicer import dependencies
from LowDoseRobustnessSlicer.job_panel import JobPanel
from LowDoseRobustnessSlicer.study import GEOMETRIES
from SyntheticCTSlicer.logic import STRATEGIES, SynthLogic

POLL_INTERVAL_MS = 200


class SyntheticCT(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Synthetic CT")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["LowDoseRobustness developers"]
        self.parent.helpText = _(
            "Makes synthetic CT volumes from a label map or segmentation: every structure is filled with "
            "Hounsfield units drawn from tissue statistics (one value, constant per structure, or textured), "
            "optionally scanned through the CT simulator at a chosen dose. Writes an nnU-Net raw dataset and "
            "loads its first case.")
        self.parent.acknowledgementText = _(
            "Method: Tsanda et al., 'Learning CT segmentation from label masks only'.")


@parameterNodeWrapper
class SyntheticCTParameterNode:
    inputLabels: Union[vtkMRMLLabelMapVolumeNode, vtkMRMLSegmentationNode]
    sourceCT: vtkMRMLScalarVolumeNode
    strategy: Annotated[str, Choice(list(STRATEGIES))] = "texture"
    count: Annotated[int, WithinRange(1, 1000)] = 1
    seed: Annotated[int, WithinRange(0, 2**31 - 1)] = 0
    addNoise: bool = True
    dosePercent: Annotated[float, WithinRange(1.0, 100.0)] = 100.0
    incidentFlux: Annotated[float, WithinRange(1.0e3, 1.0e7)] = 1.0e5
    geometry: Annotated[str, Choice(list(GEOMETRIES))] = "fast"
    outputFolder: pathlib.Path


class SyntheticCTWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self.panel = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/SyntheticCT.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = SyntheticCTLogic()
        self.timer = qt.QTimer()
        self.timer.setInterval(POLL_INTERVAL_MS)
        self.panel = JobPanel(self.ui.progressBar, self.ui.statusLabel, self.ui.logTextEdit, self.timer,
                              lambda message, log: slicer.util.errorDisplay(message, detailedText=log),
                              self._updateButtons)
        self.timer.connect("timeout()", self.panel.poll)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.generateButton.connect("clicked(bool)", self.onGenerate)
        self.ui.cancelButton.connect("clicked(bool)", self.panel.cancel)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self.panel is not None:
            self.panel.cancel()
            self.timer.stop()
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputLabels:
            first = (slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSegmentationNode")
                     or slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLLabelMapVolumeNode"))
            if first:
                self._parameterNode.inputLabels = first

    def setParameterNode(self, parameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)
        self._parameterNode = parameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)
        self._updateButtons()

    def _updateButtons(self, caller=None, event=None) -> None:
        running = self.panel is not None and self.panel.running
        self.ui.generateButton.enabled = bool(self._parameterNode and self._parameterNode.inputLabels) and not running
        self.ui.cancelButton.enabled = running
        if self._parameterNode:
            self.ui.dosePercentSpinBox.enabled = self._parameterNode.addNoise
            self.ui.incidentFluxSpinBox.enabled = self._parameterNode.addNoise

    def onGenerate(self) -> None:
        p = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Cannot generate synthetic CT."), waitCursor=True):
            if not dependencies.ensure(list(dependencies.SYNTHETIC) + (list(dependencies.CORE) if p.addNoise else []),
                                       slicer.util.confirmOkCancelDisplay, slicer.util.pip_install, self.panel.on_log):
                return
            folder = str(p.outputFolder) if str(p.outputFolder) not in ("", ".") else None
            arguments = dict(ct_node=p.sourceCT, strategy=p.strategy, count=p.count, seed=p.seed,
                             add_noise=p.addNoise, dose=p.dosePercent / 100.0, incident_flux=p.incidentFlux,
                             geometry=p.geometry, output_folder=folder, callbacks=self.panel.callbacks(self.onDone))
            try:
                job = self.logic.generate(p.inputLabels, **arguments)
            except FileExistsError as error:
                if not slicer.util.confirmYesNoDisplay(_("{error}\n\nReplace it?").format(error=error)):
                    return
                job = self.logic.generate(p.inputLabels, overwrite=True, **arguments)
            if folder is None:
                p.outputFolder = pathlib.Path(job.folder)
            self.panel.start(job, _("Generating in {folder}").format(folder=job.folder))

    def onDone(self, job) -> None:
        self.logic.showResults(job)


class SyntheticCTLogic(SynthLogic, ScriptedLoadableModuleLogic):
    """:class:`SynthLogic` on ``slicer.mrmlScene`` plus the parameter node.

    Python console::

        logic = slicer.util.getModuleLogic("SyntheticCT")
        job = logic.generate(slicer.util.getNode("labels"), strategy="texture", count=4,
                             output_folder="/tmp/synth", wait_for_completion=True)
    """

    def __init__(self) -> None:
        # SynthLogic first in the bases: ScriptedLoadableModuleLogic.__init__ calls super().__init__() without a scene
        SynthLogic.__init__(self, slicer.mrmlScene)
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return SyntheticCTParameterNode(super().getParameterNode())

    def showResults(self, job) -> None:
        results = job.results
        if results.volume_node is not None:
            slicer.util.setSliceViewerLayers(background=results.volume_node, fit=True)
        if results.segmentation_node is not None:
            results.segmentation_node.CreateClosedSurfaceRepresentation()


class SyntheticCTTest(ScriptedLoadableModuleTest):
    """Generates a synthetic CT from the TotalSegmentator example labels with the real ``lowdose synth``."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_generate_from_example_labels()

    def test_generate_from_example_labels(self):
        import time

        import SampleData

        from LowDoseRobustnessSlicer import nodes

        base = "https://github.com/wasserth/TotalSegmentator/raw/master/tests/reference_files/"
        labelsNode = SampleData.downloadFromURL(nodeNames="example_seg", fileNames="example_seg.nii.gz",
                                                uris=base + "example_seg.nii.gz",
                                                loadFileTypes="SegmentationFile")[0]
        logic = SyntheticCTLogic()
        start = time.time()
        job = logic.generate(labelsNode, strategy="constant", count=1, add_noise=False,
                             output_folder=slicer.app.temporaryPath + "/SyntheticCTTest", overwrite=True,
                             wait_for_completion=True)
        logging.info(f"one synthetic case from the example labels: {time.time() - start:.1f} s")
        self.assertIsNotNone(job.results.volume_node)
        self.assertIsNotNone(job.results.segmentation_node)
        self.assertGreater(job.results.segmentation_node.GetSegmentation().GetNumberOfSegments(), 0)
        synthetic = nodes.volume_from_node(job.results.volume_node)
        self.assertGreater(float(synthetic.array.max()), float(synthetic.array.min()))
        logic.showResults(job)
        self.delayDisplay("SyntheticCT test passed")
