"""Shared fixtures: the real CT data beside the repository, and simulated scans for the reconstruction tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from phantoms import water_phantom
from reconstruction_scans import EXAMPLES, Scan, real_ct_volume, simulate_scan


@pytest.fixture(scope="session")
def example_data() -> Path:
    if not EXAMPLES.exists():
        pytest.fail(f"shared test data not found at {EXAMPLES}")
    return EXAMPLES


@pytest.fixture(scope="session")
def phantom_scan() -> Scan:
    return simulate_scan(*water_phantom())


@pytest.fixture(scope="session")
def real_ct_scan() -> Scan:
    return simulate_scan(*real_ct_volume())
