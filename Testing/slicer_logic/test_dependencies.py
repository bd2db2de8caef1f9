"""The one list of Python packages the modules install into Slicer, and what it takes to run their commands.

The environment test builds what Slicer would hold after the installer ran: Slicer's own numpy,
scipy, SimpleITK and vtk plus exactly the listed distributions and what pip installs along with
them (their requirements, from their metadata); nothing else can be imported. Every ``lowdose``
command the modules run must work there.
"""
import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from LowDoseRobustnessLib.cli.process_runner import LIB_PARENT, lowdose_command
from LowDoseRobustnessLib.contract import RECONSTRUCTIONS
from LowDoseRobustnessSlicer import dependencies as deps
from SyntheticCTSlicer.logic import CLI_MODULE, MODULE_FOLDER

from isolated_environment import isolated, link_environment, requirement_closure
from shared_data import REPOSITORY

ALL_CHOICES = deps.study_packages("builtin", RECONSTRUCTIONS) + deps.synth_packages(True) + list(deps.COMPARISON_PACKAGES)
"""What the installer installs for the built-in model, every reconstruction, SyntheticCT with noise and the comparison."""


def test_every_listed_package_has_the_version_range_of_pyproject():
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11 reads pyproject.toml")
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    ranges = {name.lower(): specifier for name, specifier in (re.match(r"([\w.-]+)(.*)", r).groups() for r in declared)}
    listed = [*deps.CORE, *(p for extra in deps.BY_CHOICE.values() for p in extra)]
    for package in listed:
        assert ranges[package.distribution.lower()] == package.specifier, package


def test_nothing_is_installed_without_consent():
    absent = deps.Package("surely_not_installed_xyz", ">=1", "surely_not_installed_xyz", "testing")
    installed, asked = [], []
    assert deps.ensure([absent], lambda message: asked.append(message) or False, installed.append) is False
    assert installed == [] and "surely_not_installed_xyz" in asked[0]
    assert deps.ensure([deps.PANDAS], lambda message: pytest.fail("asked"), installed.append)  # present: no question


def test_torch_comes_first_from_the_cpu_index_and_installed_packages_are_pinned():
    torch, astra = (replace(p, module=f"{p.module}_absent_xyz") for p in (deps.TORCH, deps.ASTRA))
    commands = []

    def pip_install(arguments):
        commands.append((arguments, Path(arguments[arguments.index("-c") + 1]).read_text()))

    with pytest.raises(RuntimeError, match="could not install astra-toolbox, torch"):  # the stand-ins stay absent
        deps.ensure([deps.PANDAS, astra, torch], lambda message: True, pip_install)
    (first, constraints), (second, _) = commands
    assert first[:3] == [deps.TORCH.requirement, "--index-url", deps.TORCH_CPU_INDEX]
    assert second[0] == deps.ASTRA.requirement and not any("pandas" in argument for argument in second)
    assert f"numpy=={np.__version__}" in constraints.splitlines()  # Slicer's own packages stay as they are
    assert deps.study_packages("nnunet:/models/liver", ["fbp", "nlm"], "mbirjax")[len(deps.CORE):] == [
        *deps.BY_CHOICE["nlm"], *deps.BY_CHOICE["mbirjax"], *deps.BY_CHOICE["nnunet"]]
    assert deps.synth_packages(noise=False) == []


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    """Slicer's bundled packages plus exactly what the installer installs for :data:`ALL_CHOICES`."""
    listed = requirement_closure([p.distribution for p in ALL_CHOICES], provided=deps.BUNDLED)
    return link_environment(tmp_path_factory.mktemp("slicer_python"), [*deps.BUNDLED, *listed])


def run(command, environment):
    completed = subprocess.run(isolated(command, environment), capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


def test_the_environment_holds_nothing_else(environment, tmp_path):
    bare = link_environment(tmp_path / "bare", deps.BUNDLED)
    for folder, module, importable in ((bare, "pandas", False), (environment, "pandas", True),
                                       (environment, "pytest", False), (environment, "slicer", False)):
        completed = subprocess.run(isolated([sys.executable, "-c", f"import {module}"], folder), capture_output=True)
        assert (completed.returncode == 0) is importable, (folder.name, module)


def test_the_modules_load_before_anything_is_installed(tmp_path):
    """With Slicer's own packages only (slicer-core standing in for Slicer's MRML), the Slicer layer imports and
    loads data: the panels open and can ask to install what a run needs."""
    bare = link_environment(tmp_path / "slicer", [*deps.BUNDLED, "slicer-core"])
    code = (f"import sys; sys.path[:0] = [{str(LIB_PARENT)!r}, {str(MODULE_FOLDER)!r}]; import slicer; "
            "from LowDoseRobustnessSlicer import logic, dependencies; import SyntheticCTSlicer.logic; "
            "ct, labels = logic.StudyLogic(slicer.vtkMRMLScene()).load_sample(); "
            "import json; print(json.dumps([labels.GetSegmentation().GetNumberOfSegments() > 0, "
            "[p.distribution for p in dependencies.missing(dependencies.CORE)]]))")
    loaded, missing = json.loads(run([sys.executable, "-c", code], bare).stdout.splitlines()[-1])
    assert loaded and missing == [p.distribution for p in deps.CORE]  # and the installer sees them missing


def test_every_command_the_modules_run_works_with_the_installed_packages(environment, tmp_path):
    y, x = np.mgrid[:32, :32]
    image = np.where(np.hypot(x - 15.5, y - 15.5) < 13, 40.0, -1000.0)
    image[np.hypot(x - 20, y - 15.5) < 4] = 700.0
    ct = sitk.GetImageFromArray(np.repeat(image[None], 2, axis=0).astype(np.int16))
    ct.SetSpacing((2.0, 2.0, 3.0))
    sitk.WriteImage(ct, str(tmp_path / "ct.nii.gz"))
    labels = sitk.GetImageFromArray((sitk.GetArrayFromImage(ct) > 300).astype(np.uint8))
    labels.CopyInformation(ct)
    sitk.WriteImage(labels, str(tmp_path / "labels.nii.gz"))
    # LowDoseRobustness: the study engine (the GUI offers every reconstruction; iterative is import-checked below)
    run(lowdose_command(["study", str(tmp_path / "ct.nii.gz"), "--dose", "0.5", "--recon", "fbp", "--recon", "cnn",
                         "--recon", "nlm", "--model", "builtin", "--geometry", "fast", "-o", str(tmp_path / "study")]),
        environment)
    assert (tmp_path / "study" / "results.csv").exists()
    # SyntheticCT: synth with CT noise (and so without)
    run(lowdose_command(["synth", str(tmp_path / "labels.nii.gz"), "--count", "1", "--strategy", "constant",
                         "--geometry", "fast", "-o", str(tmp_path / "synthetic")], extra_paths=[MODULE_FOLDER],
                        module=CLI_MODULE), environment)
    # every reconstruction and the built-in model load; the in-scene comparison's metrics run
    check = ("from LowDoseRobustnessLib.contract import RECONSTRUCTIONS, SEGMENTERS; import numpy as np; "
             "[RECONSTRUCTIONS.load(name) for name in RECONSTRUCTIONS]; SEGMENTERS.load('builtin'); "
             "from LowDoseRobustnessLib.evaluation.metrics import compare_label_maps; "
             "from LowDoseRobustnessLib.evaluation.disagreement import disagreement_map; "
             "from LowDoseRobustnessLib.volume import Volume; m = Volume(np.ones((3, 4, 5), np.uint8)); "
             "print(compare_label_maps(m, m)['dice'][0], disagreement_map(m, m).array.max())")
    lib = f"import sys; sys.path.insert(0, {str(LIB_PARENT)!r}); "
    assert run([sys.executable, "-c", lib + check], environment).stdout.split() == ["1.0", "0"]


@pytest.mark.slow
@pytest.mark.parametrize("family, model", [("nnunet", "nnunet:{data}/tiny_nnunet"),
                                           ("monai", "monai:{data}/tiny_monai/unet.json")])
def test_model_extras_work_with_the_installed_packages(tmp_path, family, model):
    listed = requirement_closure([p.distribution for p in deps.study_packages(family)], provided=deps.BUNDLED)
    environment = link_environment(tmp_path / "environment", [*deps.BUNDLED, *listed])
    ct = sitk.GetImageFromArray(np.zeros((8, 32, 32), np.int16))
    sitk.WriteImage(ct, str(tmp_path / "ct.nii.gz"))
    run(lowdose_command(["segment", str(tmp_path / "ct.nii.gz"), "--model",
                         model.format(data=REPOSITORY / "Testing" / "Data"), "-o", str(tmp_path / "seg.nii.gz")]),
        environment)
