"""Shared fixtures: paths to the real CT data beside the repository."""
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "totalsegmentator-examples"


@pytest.fixture(scope="session")
def example_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.fail(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA
