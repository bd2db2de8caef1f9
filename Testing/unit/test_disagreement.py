"""Disagreement map: agree / missed / added / relabelled per voxel (disagreement.py)."""
import numpy as np
import pytest

from LowDoseRobustnessLib.contract import ADDED, AGREE, MISSED, RELABELLED
from LowDoseRobustnessLib.evaluation.disagreement import disagreement_map
from LowDoseRobustnessLib.io.volumes import read_volume, write_volume
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume

REFERENCE = np.array([[[0, 1, 1, 2, 2, 0]]], dtype=np.uint8)
TEST = np.array([[[1, 1, 0, 2, 1, 0]]], dtype=np.uint8)


def test_classes_for_all_labels():
    reference = Volume(REFERENCE, spacing=(0.7, 0.7, 2.0), origin=(1, 2, 3))
    classes = disagreement_map(reference, reference.with_array(TEST))
    assert classes.array.ravel().tolist() == [ADDED, AGREE, MISSED, AGREE, RELABELLED, AGREE]
    assert classes.same_grid(reference) and classes.array.dtype == np.uint8


def test_classes_for_one_label():
    reference = Volume(REFERENCE)
    classes = disagreement_map(reference, reference.with_array(TEST), label=2)
    assert classes.array.ravel().tolist() == [AGREE, AGREE, AGREE, AGREE, MISSED, AGREE]
    classes = disagreement_map(reference, reference.with_array(TEST), label=1)
    assert classes.array.ravel().tolist() == [ADDED, AGREE, MISSED, AGREE, ADDED, AGREE]


def test_other_grid_is_refused_unless_resampled():
    reference = Volume(REFERENCE)
    shifted = Volume(REFERENCE, origin=(1.0, 0.0, 0.0))
    with pytest.raises(InputError, match="different grids"):
        disagreement_map(reference, shifted)
    classes = disagreement_map(reference, shifted, resample=True)
    # the test map moved 1 voxel to +x reads [0, 0, 1, 1, 2, 2] on the reference grid
    assert classes.array.ravel().tolist() == [AGREE, MISSED, AGREE, RELABELLED, AGREE, ADDED]


def test_map_is_written_as_nifti(tmp_path):
    reference = Volume(REFERENCE, spacing=(0.7, 0.7, 2.0))
    path = write_volume(disagreement_map(reference, reference.with_array(TEST)), tmp_path / "map.nii.gz")
    assert read_volume(path).array.ravel().tolist() == [2, 0, 1, 0, 3, 0]
