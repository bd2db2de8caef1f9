"""Fixtures for SyntheticCT: a 6-slice crop of the TotalSegmentator example (3 mm, 101 x 122 in-plane)."""
from pathlib import Path

import numpy as np
import pytest

from LowDoseRobustnessLib.io.volumes import read_volume, write_volume
from LowDoseRobustnessLib.io.labels import totalsegmentator_names, write_label_names
from LowDoseRobustnessLib.volume import Volume
from SyntheticCTLib.hu_statistics import HUStatistics, read_hu_statistics
from SyntheticCTLib.label_groups import ABDOMINAL_ORGANS, parse_label_groups, select_labels

from shared_data import EXAMPLES
SLICES = slice(12, 18)


def _crop(name: str):
    path = EXAMPLES / name
    if not path.exists():
        pytest.fail(f"shared example data not found: {path}")
    volume = read_volume(path)
    return Volume(volume.array[SLICES], volume.spacing, volume.origin, volume.direction)


@pytest.fixture(scope="session")
def examples() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def ct_crop():
    return _crop("example_ct_sm.nii.gz")


@pytest.fixture(scope="session")
def seg_crop():
    return _crop("example_seg.nii.gz")


@pytest.fixture(scope="session")
def organs(seg_crop):
    """(labels 1..4, names, components): liver, spleen, kidneys, vertebrae."""
    return select_labels(seg_crop, totalsegmentator_names(), parse_label_groups(ABDOMINAL_ORGANS))


@pytest.fixture(scope="session")
def statistics() -> HUStatistics:
    return read_hu_statistics()


@pytest.fixture(scope="session")
def seg_crop_file(tmp_path_factory, seg_crop) -> Path:
    """The crop written to disk with its TotalSegmentator names sidecar."""
    path = tmp_path_factory.mktemp("labels") / "seg.nii.gz"
    write_volume(seg_crop, path)
    names = totalsegmentator_names()
    write_label_names(path, {v: names[v] for v in np.unique(seg_crop.array) if v > 0})
    return path
