"""Asking before installing Python packages into Slicer (no real installs)."""
from LowDoseRobustnessSlicer import dependencies as deps


def test_requirements_follow_the_model_family():
    modules = [r.module for r in deps.requirements_for("totalsegmentator:total")]
    assert modules[0] == "torch" and "totalsegmentator" in modules and "astra" in modules
    assert "nnunetv2" in [r.module for r in deps.requirements_for("nnunet:/models/liver")]
    assert "monai" not in [r.module for r in deps.requirements_for("builtin")]


def test_nothing_is_installed_without_consent():
    fake = deps.Requirement("surely_not_installed_pkg_xyz", "xyz-pkg", "testing")
    installed, asked = [], []
    assert deps.ensure([fake], lambda message: asked.append(message) or False, installed.append) is False
    assert installed == [] and "xyz-pkg" in asked[0]


def test_torch_goes_first_and_present_packages_are_skipped():
    fake_torch = deps.Requirement("torch_absent_xyz", "torch --index-url https://download.pytorch.org/whl/cpu", "t")
    other = deps.Requirement("other_absent_xyz", "other", "o")
    present = deps.Requirement("numpy", "numpy", "n")
    installed = []
    try:
        deps.ensure([other, present, fake_torch], lambda m: True, installed.append)
    except RuntimeError as error:  # the fakes cannot really be installed
        assert "other" in str(error)
    assert installed[0].startswith("torch") and "numpy" not in installed
