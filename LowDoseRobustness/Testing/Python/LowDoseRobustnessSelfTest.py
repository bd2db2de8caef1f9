"""ctest entry point: slicer.testing.runUnitTest loads the TestCase classes found in this module."""
from LowDoseRobustness import LowDoseRobustnessTest  # noqa: F401
