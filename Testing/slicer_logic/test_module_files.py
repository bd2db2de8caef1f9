"""Checks on the Slicer module files and their build: classes, CMake files, the vendored Slicer code, layering."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = {"LowDoseRobustness": "LowDoseRobustnessParameterNode", "SyntheticCT": "SyntheticCTParameterNode"}


@pytest.mark.parametrize("module", MODULES)
def test_module_has_module_widget_logic_and_test_classes(module):
    tree = ast.parse((ROOT / module / f"{module}.py").read_text())
    names = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    assert {module, f"{module}Widget", f"{module}Logic", f"{module}Test"} <= names


@pytest.mark.parametrize("module", MODULES)
def test_every_widget_the_code_uses_is_in_the_ui_file(module):
    """``self.ui.<name>`` in the widget code (which needs Qt, so does not run here) names a widget of the .ui."""
    used = set(re.findall(r"self\.ui\.(\w+)", (ROOT / module / f"{module}.py").read_text()))
    mixin = (ROOT / "LowDoseRobustness" / "LowDoseRobustnessSlicer" / "module_widget.py").read_text()
    used |= set(re.findall(r"self\.ui\.(\w+)", mixin))
    defined = set(re.findall(r'<widget class="\w+" name="(\w+)"', (ROOT / module / "Resources" / "UI" /
                                                                  f"{module}.ui").read_text()))
    assert used and used <= defined, used - defined


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
    assert "--additional-module-paths" not in tests.split("itself.")[-1]  # the macro adds it; twice breaks ctest
    assert (ROOT / module / "Testing" / "Python" / f"{module}SelfTest.py").exists()


def test_vendored_slicer_code_is_pinned_with_its_licence():
    vendored = ROOT / "Testing" / "slicer_python"
    readme = (vendored / "README.md").read_text()
    assert re.search(r"\b[0-9a-f]{40}\b", readme)  # the Slicer commit it was copied from
    assert (vendored / "License.txt").exists() and (vendored / "COPYRIGHT.txt").exists()
    assert (vendored / "Base" / "Python" / "slicer" / "parameterNodeWrapper" / "wrapper.py").exists()


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
