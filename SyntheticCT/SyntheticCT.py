"""SyntheticCT: synthetic CT volumes from a label map or segmentation (Tsanda et al.).

Thin Slicer module: GUI state in a parameter node; :class:`SyntheticCTSlicer.logic.SynthLogic`
(no Qt; tested with slicer-core) runs ``lowdose synth`` in a background process.
"""
import logging
import pathlib
from typing import Annotated, Union

import qt
import slicer
from slicer import vtkMRMLLabelMapVolumeNode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
from slicer.util import VTKObservationMixin

from LowDoseRobustnessSlicer import dependencies
from LowDoseRobustnessSlicer.module_widget import ModuleWidgetMixin
from LowDoseRobustnessLib.contract import GEOMETRIES
from SyntheticCTLib.contract import STRATEGIES
from SyntheticCTSlicer.logic import SynthLogic

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
    geometry: Annotated[str, Choice(list(GEOMETRIES.names))] = "fast"
    outputFolder: pathlib.Path


class SyntheticCTWidget(ModuleWidgetMixin, ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        timer = qt.QTimer()
        timer.setInterval(POLL_INTERVAL_MS)
        self.setupModuleWidget(self.resourcePath("UI/SyntheticCT.ui"), SyntheticCTLogic(), timer,
                               lambda message, log: slicer.util.errorDisplay(message, detailedText=log))
        self.ui.generateButton.connect("clicked(bool)", self.onGenerate)

    def chooseDefaultInputs(self, parameterNode) -> None:
        if not parameterNode.inputLabels:
            first = (slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSegmentationNode")
                     or slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLLabelMapVolumeNode"))
            if first:
                parameterNode.inputLabels = first

    def updateButtons(self, caller=None, event=None) -> None:
        p = self._parameterNode
        self.ui.generateButton.enabled = bool(p and p.inputLabels) and not self.jobRunning
        self.ui.cancelButton.enabled = self.jobRunning
        if p:
            self.ui.dosePercentSpinBox.enabled = p.addNoise
            self.ui.incidentFluxSpinBox.enabled = p.addNoise

    def onGenerate(self) -> None:
        p = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Cannot generate synthetic CT."), waitCursor=True):
            needed = list(dependencies.SYNTHETIC) + (list(dependencies.CORE) if p.addNoise else [])
            if not self.ensurePackages(needed):
                return
            folder = self.chosenFolder(p.outputFolder)
            arguments = dict(ct_node=p.sourceCT, strategy=p.strategy, count=p.count, seed=p.seed,
                             add_noise=p.addNoise, dose=p.dosePercent / 100.0, incident_flux=p.incidentFlux,
                             geometry=p.geometry, output_folder=folder,
                             callbacks=self.panel.callbacks(lambda job: self.logic.showResults(job)))
            job = self.startJob(
                lambda overwrite: self.logic.generate(p.inputLabels, overwrite=overwrite, **arguments),
                lambda reason: slicer.util.confirmYesNoDisplay(_("{reason}\n\nReplace it?").format(reason=reason)),
                lambda job: _("Generating in {folder}").format(folder=job.folder))
            if job is not None and folder is None:
                p.outputFolder = pathlib.Path(job.folder)


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
