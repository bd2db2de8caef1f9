"""``lowdose segment`` end to end: label map plus label-name sidecar, no silent overwrite."""
from __future__ import annotations

import pytest

from LowDoseRobustnessLib import cli
from LowDoseRobustnessLib.io.volumes import read_volume
from LowDoseRobustnessLib.io.labels import read_label_names
from segmenter_fixtures import EXAMPLES, TINY_MONAI_UNET

pytestmark = pytest.mark.skipif(not EXAMPLES.exists(), reason="TotalSegmentator example data not available")
CT = EXAMPLES / "example_ct_sm.nii.gz"


def test_builtin_writes_label_map_and_names_and_refuses_to_overwrite(tmp_path, capsys):
    output = tmp_path / "seg.nii.gz"
    assert cli.main(["segment", str(CT), "-o", str(output)]) == 0
    assert read_volume(output).same_grid(read_volume(CT))
    assert set(read_label_names(output).values()) == {"liver", "spleen", "kidney_right", "kidney_left", "vertebrae"}
    assert cli.main(["segment", str(CT), "-o", str(output)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert cli.main(["segment", str(CT), "--model", f"monai:{TINY_MONAI_UNET}", "-o", str(output),
                     "--overwrite"]) == 0
    assert set(read_label_names(output).values()) == {"liver", "spleen"}


def test_option_that_does_not_apply_is_reported(tmp_path, capsys):
    assert cli.main(["segment", str(CT), "--tta", "-o", str(tmp_path / "seg.nii.gz")]) == 2
    assert "takes no option tta" in capsys.readouterr().err
