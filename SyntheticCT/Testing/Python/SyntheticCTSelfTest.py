"""ctest entry point: slicer.testing.runUnitTest loads the TestCase classes found in this module."""
from SyntheticCT import SyntheticCTTest  # noqa: F401
