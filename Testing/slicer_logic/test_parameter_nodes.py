"""Both modules' parameter nodes through Slicer's real ``parameterNodeWrapper`` on real ``vtkMRMLScriptedModuleNode``s.

The module files import as in Slicer (Slicer's own ``ScriptedLoadableModule``, ``i18n`` and
``parameterNodeWrapper``, pinned under ``Testing/slicer_python``; inert ``qt``/``ctk``), so a
parameter node that Slicer could not create, write or read fails here as it would in Slicer.
"""
import importlib
import pathlib
import xml.etree.ElementTree as ElementTree
from typing import Union

import pytest

from shared_data import REPOSITORY

MODULES = ("LowDoseRobustness", "SyntheticCT")
CODE_BOUND = {"LowDoseRobustness": {"reconstructions"}, "SyntheticCT": {"tissues"}}
"""Parameters the widget fills from code (check boxes from the catalogue, the tissue table), not from the .ui."""


def ui_widgets(module: str) -> dict[str, str]:
    """Parameter name -> widget class of every widget bound with ``SlicerParameterName`` in the module's .ui."""
    tree = ElementTree.parse(REPOSITORY / module / "Resources" / "UI" / f"{module}.ui")
    return {p.find("string").text: widget.get("class") for widget in tree.iter("widget")
            for p in widget.findall("property") if p.get("name") == "SlicerParameterName"}


@pytest.mark.parametrize("module_name", MODULES)
def test_parameter_node_is_created_with_its_defaults_and_ui_binds_every_parameter(slicer_app, module_name):
    module = importlib.import_module(module_name)
    logic = getattr(module, f"{module_name}Logic")()
    parameters = logic.getParameterNode()
    node = parameters.parameterNode
    assert node.IsA("vtkMRMLScriptedModuleNode") and node.GetAttribute("ModuleName") == module_name
    assert logic.getParameterNode().parameterNode is node  # the module's singleton
    for name, info in parameters.allParameters.items():
        assert parameters.getValue(name) == info.default.value, name
    bound = ui_widgets(module_name)
    assert set(bound) == set(parameters.allParameters) - CODE_BOUND[module_name]
    wrapper = slicer_app.parameterNodeWrapper
    qt, ctk = importlib.import_module("qt"), importlib.import_module("ctk")
    for name, widget_class in bound.items():  # Slicer finds a connector for each widget and parameter type
        widget_type = getattr(qt, widget_class, None) if widget_class.startswith("Q") else \
            getattr(ctk if widget_class.startswith("ctk") else slicer_app, widget_class)
        assert wrapper.createGuiConnector(widget_type(), parameters.dataType(name)) is not None, name


def test_lowdose_parameters_are_set_read_back_and_checked(slicer_app):
    module = importlib.import_module("LowDoseRobustness")
    scene = slicer_app.mrmlScene
    parameters = module.LowDoseRobustnessLogic().getParameterNode()
    ct = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "ct")
    truth = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "truth")
    values = dict(inputVolume=ct, groundTruth=truth, dose20=False, dose60=True, otherDoses="5, 10",
                  reconstructions="fbp, cnn", seed=7, fitIncidentFlux=False, incidentFlux=2.5e5, geometry="fast",
                  backend="cpu",
                  model="nnunet:/models/liver", outputFolder=pathlib.Path("/data/study"), compareReference=truth,
                  compareTest=truth, compareVolume=ct, showAgreement=True)
    for name, value in values.items():
        setattr(parameters, name, value)
    again = module.LowDoseRobustnessParameterNode(parameters.parameterNode)  # read from the MRML node itself
    assert {name: again.getValue(name) for name in values} == values
    assert parameters.parameterNode.GetNodeReference("inputVolume") is ct
    parameters.groundTruth = None
    assert again.groundTruth is None
    for name, bad in (("geometry", "helical"), ("backend", "gpu0"), ("seed", -1), ("incidentFlux", 0.0),
                      ("reconstructions", "fbp, magic"), ("reconstructions", ""), ("inputVolume", truth)):
        with pytest.raises((ValueError, TypeError)):
            setattr(parameters, name, bad)
        assert again.getValue(name) == values[name], name  # a refused value leaves the node as it was


def test_synthetic_parameters_take_either_label_input_or_none(slicer_app):
    module = importlib.import_module("SyntheticCT")
    scene = slicer_app.mrmlScene
    parameters = module.SyntheticCTLogic().getParameterNode()
    assert parameters.inputLabels is None and parameters.sourceCT is None and parameters.tissues == {}
    labelmap = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "labels")
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "segments")
    for labels in (labelmap, segmentation, None):
        parameters.inputLabels = labels
        assert module.SyntheticCTParameterNode(parameters.parameterNode).inputLabels is labels
    parameters.tissues = {"Segment_1": "liver"}
    parameters.strategy, parameters.count, parameters.dosePercent = "constant", 3, 25.0
    again = module.SyntheticCTParameterNode(parameters.parameterNode)
    assert (again.tissues, again.strategy, again.count, again.dosePercent) == ({"Segment_1": "liver"}, "constant", 3, 25.0)
    for name, bad in (("strategy", "video"), ("count", 0), ("dosePercent", 150.0),
                      ("inputLabels", scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode"))):
        with pytest.raises((ValueError, TypeError)):
            setattr(parameters, name, bad)


def test_a_union_of_nodes_without_none_cannot_be_created(slicer_app):
    """Blocker 2 as Slicer shows it: the default None of ``Union[A, B]`` cannot be written."""
    wrapper = slicer_app.parameterNodeWrapper

    @wrapper.parameterNodeWrapper
    class OldSyntheticCTParameters:
        inputLabels: Union[slicer_app.vtkMRMLLabelMapVolumeNode, slicer_app.vtkMRMLSegmentationNode]

    with pytest.raises(TypeError, match="Unable to write value 'None'"):
        OldSyntheticCTParameters(slicer_app.mrmlScene.AddNewNodeByClass("vtkMRMLScriptedModuleNode"))


def test_module_metadata(slicer_app):
    lowdose = importlib.import_module("LowDoseRobustness")
    synthetic = importlib.import_module("SyntheticCT")

    class Parent:
        path = str(REPOSITORY / "LowDoseRobustness" / "LowDoseRobustness.py")

    for module, name in ((lowdose, "LowDoseRobustness"), (synthetic, "SyntheticCT")):
        parent = Parent()
        parent.path = str(REPOSITORY / name / f"{name}.py")
        getattr(module, name)(parent)
        assert "5.4" in parent.helpText
        assert all(contributor.endswith(")") and " (" in contributor for contributor in parent.contributors)
    assert parent.dependencies == ["LowDoseRobustness"]  # SyntheticCT builds on LowDoseRobustness


def test_the_bundled_sample_is_registered_with_sample_data(slicer_app):
    module = importlib.import_module("LowDoseRobustness")
    registered = []

    class SampleDataLogic:  # records what Slicer's SampleData module is given (it needs the application)
        @staticmethod
        def registerCustomSampleDataSource(**source):
            registered.append(source)

    module.registerSampleData(SampleDataLogic)
    (source,) = registered
    files = [pathlib.Path(uri.removeprefix("file://")) for uri in source["uris"]]
    assert all(path.is_file() for path in files) and [p.name for p in files] == source["fileNames"]
    assert source["loadFileTypes"] == ["VolumeFile", "SegmentationFile"]
    assert pathlib.Path(source["thumbnailFileName"]).is_file()
