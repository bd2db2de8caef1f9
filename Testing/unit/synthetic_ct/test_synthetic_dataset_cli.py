"""nnU-Net raw-dataset layout and the ``lowdose synth`` / ``synth-stats`` commands end to end."""
import json

import numpy as np
import pytest
import SimpleITK as sitk

from LowDoseRobustnessLib.cli import main
from SyntheticCTLib.contract import HU_STATISTICS_TABLE
from SyntheticCTLib.hu_statistics import read_hu_statistics
from SyntheticCTLib.label_groups import ABDOMINAL_ORGANS


def _read(path):
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def test_lowdose_synth_writes_an_nnunet_dataset(seg_crop_file, tmp_path):
    output = tmp_path / "Dataset901_Synth"
    arguments = [str(seg_crop_file), "--strategy", "texture", "--count", "2", "--seed", "5", "-o", str(output),
                 "--labels", ABDOMINAL_ORGANS, "--rotation-max-deg", "10", "--window-quantiles", "0.01", "0.995"]
    assert main(["synth", *arguments]) == 0
    dataset = json.loads((output / "dataset.json").read_text())
    assert dataset["channel_names"] == {"0": "CT"} and dataset["file_ending"] == ".nii.gz"
    assert dataset["labels"] == {"background": 0, "liver": 1, "spleen": 2, "kidneys": 3, "vertebrae": 4}
    assert dataset["numTraining"] == 2
    for case in ("synth_0000", "synth_0001"):
        image, labels = _read(output / "imagesTr" / f"{case}_0000.nii.gz"), _read(output / "labelsTr" / f"{case}.nii.gz")
        assert image.shape == labels.shape and set(np.unique(labels)) <= {0, 1, 2, 3, 4}
    assert sorted(p.name for p in (output / "imagesTr").iterdir()) == ["synth_0000_0000.nii.gz", "synth_0001_0000.nii.gz"]
    first = _read(output / "imagesTr" / "synth_0000_0000.nii.gz")
    assert main(["synth", *arguments]) == 2  # refuses to overwrite
    assert main(["synth", *arguments, "--overwrite"]) == 0
    assert np.array_equal(first, _read(output / "imagesTr" / "synth_0000_0000.nii.gz"))  # same seed, same file
    assert main(["synth", *arguments, "--overwrite", "--count", "1", "--no-noise"]) == 0
    assert len(list((output / "labelsTr").iterdir())) == 1  # no case left over from the larger dataset
    verify_dataset_integrity = pytest.importorskip(
        "nnunetv2.experiment_planning.verify_dataset_integrity").verify_dataset_integrity
    verify_dataset_integrity(str(output), num_processes=1)


def test_lowdose_synth_stats_re_estimates_the_table(examples, tmp_path):
    table = tmp_path / "hu.csv"
    assert main(["synth-stats", str(examples / "example_ct_sm.nii.gz"), str(examples / "example_seg.nii.gz"),
                 "-o", str(table), "--names", "totalsegmentator"]) == 0
    assert table.read_text() == HU_STATISTICS_TABLE.read_text()  # the shipped table is reproducible
    assert read_hu_statistics(table).tissue("liver").voxels == 38634
