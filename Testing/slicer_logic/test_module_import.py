"""Import the module files with stand-ins for the pieces only a real Slicer has (Qt, ScriptedLoadableModule,
parameterNodeWrapper, i18n), then build each module's Logic on a real MRML scene."""
import importlib
import sys
import types
from pathlib import Path

import pytest

slicer = pytest.importorskip("slicer", reason="needs the slicer-core wheel (pip install slicer-core)")

ROOT = Path(__file__).resolve().parents[2]


class _ScriptedLoadableModuleLogic:
    def __init__(self, parent=None):
        super().__init__()  # as Slicer's does: the module logics must still get their scene
        self.moduleName = type(self).__name__[:-len("Logic")]

    def getParameterNode(self):
        return slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScriptedModuleNode", self.moduleName)


def _stand_ins():
    qt = types.ModuleType("qt")
    qt.QTimer = object
    slm = types.ModuleType("slicer.ScriptedLoadableModule")
    for name in ("ScriptedLoadableModule", "ScriptedLoadableModuleWidget", "ScriptedLoadableModuleTest"):
        setattr(slm, name, type(name, (), {}))
    slm.ScriptedLoadableModuleLogic = _ScriptedLoadableModuleLogic
    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    wrapper.parameterNodeWrapper = lambda cls: cls
    wrapper.Choice = lambda choices: ("Choice", tuple(choices))
    wrapper.WithinRange = lambda low, high: ("WithinRange", low, high)
    i18n = types.ModuleType("slicer.i18n")
    i18n.tr = lambda text: text
    i18n.translate = lambda context, text: text
    return {"qt": qt, "slicer.ScriptedLoadableModule": slm, "slicer.parameterNodeWrapper": wrapper, "slicer.i18n": i18n}


@pytest.fixture
def slicer_stand_ins(monkeypatch):
    for name, module in _stand_ins().items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(slicer, "mrmlScene", slicer.vtkMRMLScene(), raising=False)
    for module in ("LowDoseRobustness", "SyntheticCT"):
        monkeypatch.syspath_prepend(str(ROOT / module))
        sys.modules.pop(module, None)
    yield
    for module in ("LowDoseRobustness", "SyntheticCT"):
        sys.modules.pop(module, None)


def test_lowdose_module_imports_and_its_logic_uses_the_scene(slicer_stand_ins):
    module = importlib.import_module("LowDoseRobustness")
    logic = module.LowDoseRobustnessLogic()
    assert logic.scene is slicer.mrmlScene and logic.moduleName == "LowDoseRobustness"
    assert callable(logic.run_study) and callable(logic.showResults)
    parameters = module.LowDoseRobustnessParameterNode
    assert parameters.__annotations__["geometry"].__metadata__[0] == ("Choice", ("clinical", "fast"))
    assert set(parameters.__annotations__) >= {"inputVolume", "groundTruth", "model", "outputFolder"}


def test_synthetic_module_imports_and_its_logic_uses_the_scene(slicer_stand_ins):
    module = importlib.import_module("SyntheticCT")
    logic = module.SyntheticCTLogic()
    assert logic.scene is slicer.mrmlScene and logic.moduleName == "SyntheticCT"
    assert callable(logic.generate)
