"""The whole study, end to end, with the built-in model on a crop of the real example CT."""
import numpy as np
import pandas as pd
import SimpleITK as sitk

from LowDoseRobustnessLib.cli import main as lowdose
from LowDoseRobustnessLib.io.labels import relabel_by_name


def test_relabel_by_name_matches_names_and_merged_groups():
    labels = np.array([0, 1, 5, 27, 28, 99])
    source = {1: "spleen", 5: "liver", 27: "vertebrae_L1", 28: "vertebrae_L2", 99: "heart"}
    target = {1: "liver", 2: "spleen", 5: "vertebrae"}
    assert relabel_by_name(labels, source, target).tolist() == [0, 2, 1, 5, 5, 0]


def test_study_writes_volumes_masks_tables_and_report(example_data, tmp_path, capsys):
    ct = sitk.ReadImage(str(example_data / "example_ct_sm.nii.gz"))[:, :, 8:20]
    truth = sitk.ReadImage(str(example_data / "example_seg.nii.gz"))[:, :, 8:20]
    sitk.WriteImage(ct, str(tmp_path / "ct.nii.gz"))
    sitk.WriteImage(truth, str(tmp_path / "truth.nii.gz"))
    out = tmp_path / "study"
    args = ["study", str(tmp_path / "ct.nii.gz"), "--dose", "0.25", "--geometry", "fast", "--recon", "fbp", "--recon", "nlm",
            "--ground-truth", str(tmp_path / "truth.nii.gz"), "-o", str(out)]
    assert lowdose(args) == 0
    results = pd.read_csv(out / "results.csv")
    assert set(results["reference"]) == {"full_dose", "ground_truth"}
    robustness = results[results["reference"] == "full_dose"]
    assert set(robustness["name"]) == {"liver", "spleen", "kidney_right", "kidney_left", "vertebrae"}
    assert robustness["dice"].median() > 0.9
    for method in ("fbp", "nlm"):  # the ground truth is matched by name for every reconstruction
        truth_rows = results[(results["reference"] == "ground_truth") & (results["dose"] == 1.0)
                             & (results["reconstruction"] == method)]
        assert (truth_rows.set_index("name").loc[["liver", "spleen"], "dice"] > 0.9).all()
    for folder in ("volumes/ct/fbp", "segmentations/ct/fbp/builtin", "volumes/ct/nlm"):
        assert sorted(p.name for p in (out / folder).glob("*.nii.gz")) == ["dose_025.nii.gz",
                                                                                  "dose_100.nii.gz"]
    assert (out / "disagreement" / "ct" / "fbp" / "builtin" / "dose_025.nii.gz").exists()
    assert "data:image/png;base64" in (out / "report.html").read_text()
    assert lowdose(args) == 2 and "already holds a study" in capsys.readouterr().err
