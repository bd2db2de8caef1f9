"""The modules' self-tests (``*Test`` classes), loaded from their ctest scripts as Slicer's test runner loads them.

They run the real engine and ``lowdose synth`` on the bundled sample; only the Qt side (dialogs,
layout, event processing) is inert here.
"""
import importlib.util
import unittest

import pytest

from shared_data import REPOSITORY


@pytest.mark.parametrize("module", ["LowDoseRobustness", "SyntheticCT"])
def test_self_test_passes(slicer_app, module):
    script = REPOSITORY / module / "Testing" / "Python" / f"{module}SelfTest.py"
    spec = importlib.util.spec_from_file_location(f"{module}SelfTest", script)
    self_test = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(self_test)
    suite = unittest.defaultTestLoader.loadTestsFromModule(self_test)
    assert suite.countTestCases() >= 1
    result = unittest.TextTestRunner(verbosity=0).run(suite)
    assert result.wasSuccessful(), [text for _, text in result.errors + result.failures]
