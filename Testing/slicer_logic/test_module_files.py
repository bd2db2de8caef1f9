"""Checks on the Slicer module files that cannot run here (no Qt): they parse, and the .ui widgets
bound with SlicerParameterName match the parameter node's fields one to one."""
import ast
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = {"LowDoseRobustness": "LowDoseRobustnessParameterNode", "SyntheticCT": "SyntheticCTParameterNode"}


def parameter_fields(module: str, class_name: str) -> set[str]:
    tree = ast.parse((ROOT / module / f"{module}.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    assert any(getattr(d, "id", None) == "parameterNodeWrapper" for d in cls.decorator_list)
    return {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign)}


def ui_parameters(module: str) -> set[str]:
    tree = ElementTree.parse(ROOT / module / "Resources" / "UI" / f"{module}.ui")
    return {p.find("string").text for p in tree.iter("property") if p.get("name") == "SlicerParameterName"}


@pytest.mark.parametrize("module", MODULES)
def test_ui_binds_every_parameter(module):
    assert ui_parameters(module) == parameter_fields(module, MODULES[module])


@pytest.mark.parametrize("module", MODULES)
def test_module_has_module_widget_logic_and_test_classes(module):
    tree = ast.parse((ROOT / module / f"{module}.py").read_text())
    names = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    assert {module, f"{module}Widget", f"{module}Logic", f"{module}Test"} <= names


@pytest.mark.parametrize("module", MODULES)
def test_cmake_ships_the_packages_resources_and_self_test(module):
    cmake = (ROOT / module / "CMakeLists.txt").read_text()
    assert "slicerMacroBuildScriptedModule" in cmake and f"Resources/UI/${{MODULE_NAME}}.ui" in cmake
    packages = re.findall(r"/(\w+)/\*\.py", cmake)
    assert f"{module}Lib" in packages and len(packages) == 2
    for package in packages:
        assert (ROOT / module / package / "__init__.py").exists()
    assert (ROOT / module / "Resources" / "Icons" / f"{module}.png").exists()
    tests = (ROOT / module / "Testing" / "Python" / "CMakeLists.txt").read_text()
    assert "slicer_add_python_unittest" in tests
    assert (ROOT / module / "Testing" / "Python" / f"{module}SelfTest.py").exists()


def test_libs_import_no_slicer_qt_or_vtk():
    for lib in (ROOT / "LowDoseRobustness" / "LowDoseRobustnessLib", ROOT / "SyntheticCT" / "SyntheticCTLib"):
        for path in lib.rglob("*.py"):
            imports = re.findall(r"^\s*(?:from|import)\s+(\w+)", path.read_text(), re.M)
            assert not {"slicer", "qt", "vtk", "ctk"} & set(imports), path


def test_slicer_packages_import_no_qt():
    for package in (ROOT / "LowDoseRobustness" / "LowDoseRobustnessSlicer", ROOT / "SyntheticCT" / "SyntheticCTSlicer"):
        for path in package.rglob("*.py"):
            imports = re.findall(r"^\s*(?:from|import)\s+(\w+)", path.read_text(), re.M)
            assert not {"qt", "ctk"} & set(imports), path
