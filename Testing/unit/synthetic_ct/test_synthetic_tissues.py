"""Which HU statistics fill a label of any name: chosen, by name, by label value, else soft tissue."""
import json

import numpy as np
import pytest

from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume
from SyntheticCTLib.generate import label_tissues
from SyntheticCTLib.hu_statistics import DEFAULT_TISSUE, assign_tissues, read_hu_statistics, tissue_messages
from SyntheticCTLib.label_groups import label_names_for, labels_present


@pytest.fixture(scope="module")
def table():
    return read_hu_statistics()


def test_generic_names_of_a_totalsegmentator_numbered_map_take_the_tissue_of_their_value(table):
    labels = {1: "Segment_1", 5: "Segment_5", 31: "label_31", 50: "Segment_50", 2: "kidney_right"}
    choices = assign_tissues(labels, table)
    assert [(choices[v].tissue, choices[v].source) for v in (1, 5, 31, 2)] == [
        ("spleen", "label value"), ("liver", "label value"), ("vertebrae_L1", "label value"), ("kidney_right", "name")]
    assert (choices[50].tissue, choices[50].source) == (DEFAULT_TISSUE, "default")  # a value the table lacks
    messages = tissue_messages(choices)
    assert messages[0].startswith("note: 3 labels with generic names") and "Segment_5 as liver" in messages[0]
    assert messages[1:] == [m for m in messages if m.startswith("warning: no HU statistics for 'Segment_50'")]


def test_hand_drawn_segments_fall_back_to_soft_tissue_unless_a_tissue_is_chosen(table):
    drawn = {1: "Segment_1", 2: "Segment_2", 3: "tumour"}  # numbered 1..K: not TotalSegmentator's values
    choices = assign_tissues(drawn, table, chosen={"tumour": "liver", "Segment_2": "aorta"})
    assert {v: (c.tissue, c.source) for v, c in choices.items()} == {
        1: (DEFAULT_TISSUE, "default"), 2: ("aorta", "chosen"), 3: ("liver", "chosen")}
    assert table.tissue(DEFAULT_TISSUE).mean_hu == pytest.approx(6.3)  # the documented soft-tissue default
    with pytest.raises(InputError, match="no HU statistics for the chosen tissue"):
        assign_tissues(drawn, table, chosen={"tumour": "unobtainium"})
    pooled = label_tissues({1: "organs"}, {"organs": ["tumour", "Segment_2"]}, table,
                           {c.name: c.tissue for c in choices.values()})
    assert pooled[1] == table.pooled("organs", ["liver", "aorta"])


def test_a_map_without_names_is_named_from_totalsegmentator_or_left_unnamed(tmp_path, monkeypatch):
    labels = Volume(np.array([[[0, 5, 7]]], np.uint8))
    assert labels_present(labels, {5: "liver"}) == {5: "liver", 7: "label_7"}
    path = tmp_path / "labels.nii.gz"
    (tmp_path / "names.json").write_text(json.dumps({"5": "liver"}))
    assert label_names_for(path, str(tmp_path / "names.json")) == {5: "liver"}

    def not_installed(task="total"):
        raise ImportError("No module named 'totalsegmentator'")

    monkeypatch.setattr("SyntheticCTLib.label_groups.totalsegmentator_names", not_installed)
    assert label_names_for(path) == {}  # Slicer without TotalSegmentator: found by value later, no crash
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="must hold an object"):
        label_names_for(path, str(tmp_path / "bad.json"))
