"""``lowdose compare`` and ``lowdose report`` end to end on the real TotalSegmentator pair."""
import shutil

import numpy as np
import pytest

from LowDoseRobustnessLib import cli
from LowDoseRobustnessLib.evaluation.disagreement import CLASS_NAMES
from LowDoseRobustnessLib.io.volumes import read_volume, write_volume
from LowDoseRobustnessLib.io.labels import read_label_names, write_label_names
from LowDoseRobustnessLib.evaluation.results import read_table
from LowDoseRobustnessLib.volume import Volume

from shared_data import EXAMPLES
pytestmark = pytest.mark.skipif(not (EXAMPLES / "example_seg.nii.gz").exists(), reason="shared example data missing")


@pytest.fixture
def lowdose():
    return lambda *argv: cli.main([str(a) for a in argv])


@pytest.fixture
def pair(tmp_path):
    for name in ("example_seg.nii.gz", "example_seg_fast.nii.gz"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    return tmp_path / "example_seg.nii.gz", tmp_path / "example_seg_fast.nii.gz"


def test_compare_writes_metrics_and_disagreement_map(lowdose, pair, tmp_path):
    reference, test = pair
    output, map_path = tmp_path / "study" / "c1_20.csv", tmp_path / "map.nii.gz"
    assert lowdose("compare", reference, test, "-o", output, "--disagreement", map_path, "--case", "c1",
                   "--dose", 0.2, "--reconstruction", "fbp", "--model", "totalseg", "--hd-voxels") == 0
    table = read_table(output)
    for column in ("label", "name", "dice", "hd95_mm", "volume_ref_ml", "volume_test_ml", "r_eff_mm"):
        assert column in table
    assert table["label"].is_unique and len(table) >= 30
    liver = table.set_index("label").loc[5]
    assert liver["name"] == "liver"  # TotalSegmentator's class map: no sidecar here
    assert 0.9 < liver["dice"] < 1.0 and liver["hd95_vox"] == pytest.approx(liver["hd95_mm"] / 3.0)
    assert (table["case"] == "c1").all() and (table["dose"] == 0.2).all()
    classes = read_volume(map_path)
    assert set(np.unique(classes.array)) <= {0, 1, 2, 3} and classes.array.shape == (30, 101, 122)
    assert read_label_names(map_path) == CLASS_NAMES

    assert lowdose("compare", reference, test, "-o", output) == 2  # refuses to overwrite
    assert lowdose("report", tmp_path / "study") == 0
    assert (tmp_path / "study" / "report" / "report.html").exists()


def test_compare_selected_labels_with_sidecar_names(lowdose, pair, tmp_path):
    reference, test = pair
    write_label_names(reference, {1: "milz", 5: "leber"})
    output = tmp_path / "m.parquet"
    assert lowdose("compare", reference, test, "-o", output, "--labels", 1, 5, 200) == 0
    table = read_table(output)
    assert table["name"].tolist() == ["milz", "leber", ""]
    assert table["status"].tolist()[-1] == "absent_in_both"
    assert lowdose("report", tmp_path, "-o", tmp_path / "out") == 0  # one comparison, no dose: no curves
    assert sorted(p.name for p in (tmp_path / "out" / "figures").iterdir()) == ["dice_vs_effective_radius.png"]


def test_other_grid_is_an_error_unless_resampled(lowdose, pair, tmp_path, capsys):
    reference, test = pair
    moved = read_volume(test)
    write_volume(Volume(moved.array, moved.spacing, np.add(moved.origin, 3.0), moved.direction), tmp_path / "moved.nii.gz")
    assert lowdose("compare", reference, tmp_path / "moved.nii.gz", "-o", tmp_path / "a.csv") == 2
    assert "different grids" in capsys.readouterr().err
    assert lowdose("compare", reference, tmp_path / "moved.nii.gz", "-o", tmp_path / "a.csv", "--resample") == 0
