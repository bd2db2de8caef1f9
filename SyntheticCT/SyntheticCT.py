"""SyntheticCT: synthetic CT volumes from a label map or segmentation (Tsanda et al.). Slicer 5.4 or later.

Thin Slicer module: GUI state in a parameter node; :class:`SyntheticCTSlicer.logic.SynthLogic`
(no Qt; tested with slicer-core) runs ``lowdose synth`` in a background process. Builds on the
LowDoseRobustness module (its Lib, Slicer layer and CT simulator).
"""
import logging
import pathlib
from typing import Annotated, Optional, Union

import qt
import slicer
from slicer import vtkMRMLLabelMapVolumeNode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
from slicer.util import VTKObservationMixin

from LowDoseRobustnessLib.contract import GEOMETRIES
from LowDoseRobustnessSlicer import dependencies, views
from LowDoseRobustnessSlicer.module_widget import ModuleWidgetMixin
from SyntheticCTLib.contract import STRATEGIES
from SyntheticCTSlicer.logic import SynthLogic

AUTOMATIC = "automatic"
"""The tissue column's first entry: leave the choice to ``lowdose synth`` (shown with what it chooses)."""

POLL_INTERVAL_MS = 200


class SyntheticCT(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Synthetic CT")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = ["LowDoseRobustness"]
        self.parent.contributors = ["LowDoseRobustness developers (LowDoseRobustness project)"]
        self.parent.helpText = _(
            "Makes synthetic CT volumes from a label map or segmentation: every structure is filled with "
            "Hounsfield units drawn from tissue statistics (one value, constant per structure, or textured), "
            "optionally scanned through the CT simulator at a chosen dose. Writes an nnU-Net raw dataset and "
            "loads its first case. Needs Slicer 5.4 or later and the Low-Dose Robustness module.")
        self.parent.acknowledgementText = _(
            "Method: Tsanda et al., 'Learning CT segmentation from label masks only'.")


@parameterNodeWrapper
class SyntheticCTParameterNode:
    inputLabels: Optional[Union[vtkMRMLLabelMapVolumeNode, vtkMRMLSegmentationNode]]
    sourceCT: Optional[vtkMRMLScalarVolumeNode]
    strategy: Annotated[str, Choice(list(STRATEGIES))] = "texture"
    count: Annotated[int, WithinRange(1, 1000)] = 1
    seed: Annotated[int, WithinRange(0, 2**31 - 1)] = 0
    addNoise: bool = True
    dosePercent: Annotated[float, WithinRange(1.0, 100.0)] = 100.0
    incidentFlux: Annotated[float, WithinRange(1.0e3, 1.0e7)] = 1.0e5
    geometry: Annotated[str, Choice(list(GEOMETRIES.names))] = "fast"
    outputFolder: pathlib.Path
    tissues: dict[str, str]
    """Segment name -> tissue of the statistics table, where the user chose one (filled by the tissue table)."""


class SyntheticCTWidget(ModuleWidgetMixin, ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self.tissueTableInput = None  # the labels node the tissue table was made for

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        timer = qt.QTimer()
        timer.setInterval(POLL_INTERVAL_MS)
        self.setupModuleWidget(self.resourcePath("UI/SyntheticCT.ui"), SyntheticCTLogic(), timer,
                               lambda message, log: slicer.util.errorDisplay(message, detailedText=log))
        self.ui.generateButton.connect("clicked(bool)", self.onGenerate)

    def updateTissueTable(self) -> None:
        """One row per segment of the input: its name and a tissue box (automatic, or a tissue of the table)."""
        p = self._parameterNode
        table = self.ui.tissuesTableWidget
        choices = self.logic.tissue_choices(p.inputLabels, p.tissues) if p else []
        automatic = self.logic.tissue_choices(p.inputLabels) if p else []
        tissues = self.logic.tissue_names()
        table.setRowCount(len(choices))
        for row, (choice, default) in enumerate(zip(choices, automatic)):
            table.setItem(row, 0, qt.QTableWidgetItem(choice.name))
            box = qt.QComboBox()
            box.addItems([f"{AUTOMATIC} ({default.tissue}, by {default.source})", *tissues])
            box.currentIndex = tissues.index(choice.tissue) + 1 if choice.source == "chosen" else 0
            box.connect("currentIndexChanged(int)", lambda index, name=choice.name: self.onTissueChosen(name, index))
            table.setCellWidget(row, 1, box)

    def onTissueChosen(self, name: str, index: int) -> None:
        chosen = dict(self._parameterNode.tissues)
        if index <= 0:
            chosen.pop(name, None)
        else:
            chosen[name] = self.logic.tissue_names()[index - 1]
        self._parameterNode.tissues = chosen

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
        if p and p.inputLabels is not self.tissueTableInput:  # rebuilt for a new input only, not while choosing
            self.tissueTableInput = p.inputLabels
            self.updateTissueTable()

    def onGenerate(self) -> None:
        p = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Cannot generate synthetic CT."), waitCursor=True):
            if not self.ensurePackages(dependencies.synth_packages(p.addNoise)):
                return
            folder = self.chosenFolder(p.outputFolder)
            arguments = dict(ct_node=p.sourceCT, strategy=p.strategy, count=p.count, seed=p.seed,
                             add_noise=p.addNoise, dose=p.dosePercent / 100.0, incident_flux=p.incidentFlux,
                             geometry=p.geometry, output_folder=folder, tissues=dict(p.tissues),
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
            views.show_pair(slicer.mrmlScene, results.volume_node)
            slicer.util.resetSliceViews()
        if results.segmentation_node is not None:
            results.segmentation_node.CreateClosedSurfaceRepresentation()


class SyntheticCTTest(ScriptedLoadableModuleTest):
    """Generates a synthetic CT from the bundled sample labels with the real ``lowdose synth``."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_generate_from_the_sample_labels()

    def test_generate_from_the_sample_labels(self):
        import tempfile
        import time

        from LowDoseRobustnessSlicer import nodes
        from LowDoseRobustnessSlicer.logic import StudyLogic

        _, labelsNode = StudyLogic(slicer.mrmlScene).load_sample()  # segments named label_<value>, as from a file
        logic = SyntheticCTLogic()
        choices = logic.tissue_choices(labelsNode)
        self.assertIn("liver", {choice.tissue for choice in choices})  # TotalSegmentator values: by label value
        start = time.time()
        job = logic.generate(labelsNode, strategy="constant", count=1, add_noise=False,
                             output_folder=tempfile.mkdtemp(prefix="SyntheticCTTest-"), wait_for_completion=True)
        logging.info(f"one synthetic case from the sample labels: {time.time() - start:.1f} s")
        self.assertIsNotNone(job.results.volume_node)
        self.assertGreater(job.results.segmentation_node.GetSegmentation().GetNumberOfSegments(), 0)
        synthetic = nodes.volume_from_node(job.results.volume_node)
        self.assertGreater(float(synthetic.array.max()), float(synthetic.array.min()))
        logic.showResults(job)
        self.delayDisplay("SyntheticCT test passed")
