"""What the two module widgets share: the parameter-node lifecycle and a background job with its panel.

No Qt import: the widget passes in its ``qt.QTimer`` and the dialog functions. Mixed into a
``ScriptedLoadableModuleWidget`` that is also a ``VTKObservationMixin``; its .ui has progressBar,
statusLabel, logTextEdit and cancelButton, its logic has ``getParameterNode()``, and the widget
implements ``updateButtons()`` and ``chooseDefaultInputs(parameterNode)``.
"""
from __future__ import annotations

from typing import Callable, Optional

import slicer
import vtk

from LowDoseRobustnessSlicer import dependencies
from LowDoseRobustnessSlicer.job_panel import JobPanel


class ModuleWidgetMixin:
    _parameterNode = None
    _parameterNodeGuiTag = None
    panel: Optional[JobPanel] = None

    def setupModuleWidget(self, uiPath: str, logic, timer, showError: Callable[[str, str], None]) -> None:
        """Load the .ui into the panel, keep ``logic``, poll jobs with ``timer`` (a ``qt.QTimer``).

        Call from ``setup()`` after ``ScriptedLoadableModuleWidget.setup(self)``; connect the buttons afterwards.
        """
        uiWidget = slicer.util.loadUI(uiPath)
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = logic
        self.timer = timer
        self.panel = JobPanel(self.ui.progressBar, self.ui.statusLabel, self.ui.logTextEdit, timer, showError,
                              self.updateButtons)
        timer.connect("timeout()", self.panel.poll)
        self.ui.cancelButton.connect("clicked(bool)", lambda: self.panel.cancel())
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
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
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateButtons)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        self.chooseDefaultInputs(self._parameterNode)

    def setParameterNode(self, parameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateButtons)
        self._parameterNode = parameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateButtons)
        self.updateButtons()

    def ensurePackages(self, requirements) -> bool:
        """Ask, then install missing Python packages into Slicer (False when the user declined)."""
        return dependencies.ensure(requirements, slicer.util.confirmOkCancelDisplay, slicer.util.pip_install,
                                   self.panel.on_log)

    @staticmethod
    def chosenFolder(path) -> Optional[str]:
        """The output folder parameter, or None when unset (the logic then makes a temporary folder)."""
        return str(path) if path is not None and str(path) not in ("", ".") else None

    @property
    def jobRunning(self) -> bool:
        return self.panel is not None and self.panel.running

    def startJob(self, start: Callable[[bool], object], confirmReplace: Callable[[str], bool],
                 message: Callable[[object], str]):
        """``start(overwrite)`` a job; when files exist, ``confirmReplace(reason)`` decides. None when declined."""
        try:
            job = start(False)
        except FileExistsError as error:
            if not confirmReplace(str(error)):
                return None
            job = start(True)
        self.panel.start(job, message(job))
        return job
