"""Tidy results tables, median +- MAD summary, figures and the HTML report (results.py, plots.py, report.py)."""
import base64
import re

import numpy as np
import pandas as pd
import pytest

from LowDoseRobustnessLib.evaluation.plots import log_bin_edges
from LowDoseRobustnessLib.contract import TAG_COLUMNS
from LowDoseRobustnessLib.evaluation.report import write_report
from LowDoseRobustnessLib.evaluation.results import (median_absolute_deviation, read_results, read_table, summarize,
                                          tidy_table, write_table)
from LowDoseRobustnessLib.errors import InputError

PNG_SIGNATURE = b"\x89PNG"


def label_metrics(dice, hd95_mm=(1.0, 2.0, np.inf), status=("present_in_both",) * 2 + ("only_in_reference",)):
    return pd.DataFrame({
        "label": [1, 2, 3], "name": ["liver", "spleen", ""], "status": list(status), "dice": list(dice),
        "hd95_mm": list(hd95_mm), "hd95_vox": [np.nan] * 3, "surface_dice": [1.0, 0.9, 0.0],
        "volume_ref_ml": [1500.0, 200.0, 3.0], "volume_test_ml": [1490.0, 210.0, 0.0],
        "r_eff_mm": [71.0, 36.3, 8.9]})


def write_study(folder):
    """3 cases x 2 doses x 2 reconstructions of one model; case c1 without contrast."""
    rng = np.random.default_rng(0)
    for case in ("c1", "c2", "c3"):
        for dose in (1.0, 0.2):
            for reconstruction in ("fbp", "cnn"):
                table = tidy_table(label_metrics(rng.uniform(0.6, 1.0, 3)), case=case, dose=dose,
                                   reconstruction=reconstruction, model="totalseg", contrast=case != "c1")
                suffix = ".parquet" if reconstruction == "cnn" else ".csv"
                write_table(table, folder / case / f"{dose}_{reconstruction}{suffix}")


def test_median_absolute_deviation():
    assert median_absolute_deviation([1.0, 2.0, 3.0, 4.0, 100.0]) == 1.0


def test_tables_round_trip_through_csv_and_parquet(tmp_path):
    table = tidy_table(label_metrics([0.9, 0.8, 0.0]), case="007", dose=0.2, reconstruction="fbp", model="m")
    assert list(table.columns[:6]) == list(TAG_COLUMNS)
    for name in ("t.csv", "t.parquet"):
        back = read_table(write_table(table, tmp_path / name))
        pd.testing.assert_frame_equal(back, table, check_dtype=False)
        assert np.isinf(back["hd95_mm"].iloc[2])
    with pytest.raises(FileExistsError):
        write_table(table, tmp_path / "t.csv")
    with pytest.raises(InputError, match="csv or .parquet"):
        write_table(table, tmp_path / "t.xlsx")


def test_summary_is_median_and_mad_of_per_case_label_means(tmp_path):
    for case, dice in (("a", [1.0, 0.8, 0.0]), ("b", [0.9, 0.9, 0.0]), ("c", [0.6, 0.6, 0.0])):
        write_table(tidy_table(label_metrics(dice), case=case, dose=0.2, model="m"), tmp_path / f"{case}.csv")
    write_table(pd.DataFrame({"something": [1]}), tmp_path / "not_results.csv")  # passed over
    summary = summarize(read_results(tmp_path))
    row = summary.iloc[0]
    assert row["cases"] == 3
    # per-case means 0.6, 0.6, 0.4 -> median 0.6, MAD 0
    assert row["dice_median"] == pytest.approx(0.6) and row["dice_mad"] == pytest.approx(0.0)
    assert np.isinf(row["hd95_mm_median"])  # the missed label makes every case's mean HD95 infinite
    assert "hd95_vox_median" not in summary  # never computed, so not summarized


def test_absent_labels_are_left_out_of_the_summary(tmp_path):
    metrics = label_metrics([0.8, 1.0, 1.0], hd95_mm=[2.0, 0.0, 0.0],
                            status=["present_in_both", "absent_in_both", "absent_in_both"])
    write_table(tidy_table(metrics, case="a", dose=0.5, model="m"), tmp_path / "a.csv")
    assert summarize(read_results(tmp_path))["dice_median"].iloc[0] == pytest.approx(0.8)


def test_contrast_from_case_metadata(tmp_path):
    for case in ("a", "b"):
        write_table(tidy_table(label_metrics([0.9, 0.8, 0.0]), case=case, dose=0.2, model="m"), tmp_path / f"{case}.csv")
    pd.DataFrame({"case": ["a", "b"], "contrast": [True, False]}).to_csv(tmp_path / "cases.csv", index=False)
    results = read_results(tmp_path)
    assert results.groupby("case")["contrast"].first().to_dict() == {"a": True, "b": False}
    assert set(summarize(results)["contrast"]) == {True, False}


def test_empty_results_folder_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no results tables"):
        read_results(tmp_path)


def test_log_bins_cover_the_values():
    edges = log_bin_edges([3.0, 20.0, 150.0], bins_per_decade=4)
    assert edges[0] <= 3.0 and edges[-1] >= 150.0
    np.testing.assert_allclose(np.diff(np.log10(edges)), 0.25)


def test_report_from_a_study_folder(tmp_path):
    write_study(tmp_path / "study")
    results = read_results(tmp_path / "study")
    assert len(results) == 3 * 2 * 2 * 3
    page = write_report(results, tmp_path / "report")
    text = page.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == 4  # failure curves, attack rate, Dice by size, contrast split
    assert all(base64.b64decode(image).startswith(PNG_SIGNATURE) for image in images)
    figures = sorted(p.name for p in (tmp_path / "report" / "figures").iterdir())
    assert figures == ["attack_rate.png", "contrast.png", "dice_vs_effective_radius.png", "failure_curves.png"]
    assert " ± " in text and "totalseg" in text
    summary = read_table(tmp_path / "report" / "summary.csv")
    assert set(summary["contrast"]) == {True, False} and summary["cases"].sum() == 3 * 2 * 2
    with pytest.raises(FileExistsError):
        write_report(results, tmp_path / "report")
