"""TotalSegmentator's own code path, offline, with the tiny nnU-Net placed where it expects the 3 mm weights."""
from __future__ import annotations

import numpy as np
import pytest

from LowDoseRobustnessLib.io.volumes import read_volume
from LowDoseRobustnessLib.segmenters import get_segmenter
from LowDoseRobustnessLib.segmenters.totalsegmentator import label_groups
from LowDoseRobustnessLib.errors import InputError
from segmenter_fixtures import EXAMPLES, offline_totalsegmentator


@pytest.fixture
def weights(tmp_path, monkeypatch):
    for name, value in offline_totalsegmentator(tmp_path).items():
        monkeypatch.setenv(name, value)


@pytest.mark.skipif(not EXAMPLES.exists(), reason="TotalSegmentator example data not available")
def test_total_fast_runs_offline_and_returns_named_labels_on_the_input_grid(weights):
    ct = read_volume(EXAMPLES / "example_ct_sm.nii.gz")
    segmenter = get_segmenter("totalsegmentator:total_fast", device="cpu")
    segmentation = segmenter.segment(ct)
    assert segmentation.label_map.same_grid(ct)
    assert segmentation.names[5] == "liver" and segmentation.names[1] == "spleen"
    assert np.any(segmentation.mask("liver"))


def test_roi_subset_keeps_only_those_names(weights):
    segmenter = get_segmenter("totalsegmentator:total_fast", roi_subset=["liver", "spleen"])
    assert segmenter.names == {1: "spleen", 5: "liver"}
    assert segmenter.label_groups()["organs"] == [1, 5]
    assert "--robust_crop" in segmenter.command("in.nii.gz", "out.nii.gz")


def test_missing_weights_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path))
    with pytest.raises(InputError, match=r"totalseg_download_weights -t total_fast.*TOTALSEG_WEIGHTS_PATH"):
        get_segmenter("totalsegmentator:total_fast")


def test_unknown_task_and_class_are_input_errors(weights):
    with pytest.raises(InputError, match="Unknown task"):
        get_segmenter("totalsegmentator:no_such_task")
    with pytest.raises(InputError, match="has no classes"):
        get_segmenter("totalsegmentator:total_fast", roi_subset=["unicorn"])


def test_paper_groups_partition_the_total_classes():
    groups = label_groups("total")
    assert list(groups) == ["organs", "vertebrae", "cardiac", "muscles", "ribs"]
    members = [value for values in groups.values() for value in values]
    assert len(members) == len(set(members)) == 117
    assert 5 in groups["organs"] and 26 in groups["vertebrae"]
