"""HU statistics, textures, label selection: the prior knowledge and the building blocks."""
import numpy as np
import pytest

from LowDoseRobustnessLib.io.labels import totalsegmentator_names
from LowDoseRobustnessLib.errors import InputError
from SyntheticCTLib.hu_statistics import (BODY_PROBABILITIES, estimate_hu_statistics, read_hu_statistics,
                                          write_hu_statistics)
from SyntheticCTLib.label_groups import parse_label_groups, select_labels
from SyntheticCTLib.textures import match_gaussian, match_quantiles, multi_octave_noise


def test_estimated_statistics_match_the_ct_under_each_label(ct_crop, seg_crop, tmp_path):
    statistics = estimate_hu_statistics(ct_crop, seg_crop, totalsegmentator_names())
    liver = ct_crop.array[seg_crop.array == 5]
    assert statistics.tissue("liver").mean_hu == pytest.approx(liver.mean())
    assert statistics.tissue("liver").sd_hu == pytest.approx(liver.std())
    assert statistics.tissue("liver").voxels == liver.size
    assert statistics.tissue("air").mean_hu < -800
    assert statistics.tissue("unlabelled_low").mean_hu < statistics.tissue("unlabelled_high").mean_hu
    assert np.all(np.diff(statistics.body_quantiles_hu) >= 0)
    write_hu_statistics(statistics, tmp_path / "table.csv")
    again = read_hu_statistics(tmp_path / "table.csv")
    assert again.tissue("spleen").mean_hu == pytest.approx(statistics.tissue("spleen").mean_hu, abs=0.05)
    np.testing.assert_allclose(again.body_quantiles_hu, statistics.body_quantiles_hu, atol=0.05)


def test_pooled_statistics_equal_those_of_the_merged_mask(ct_crop, seg_crop):
    statistics = estimate_hu_statistics(ct_crop, seg_crop, totalsegmentator_names())
    kidneys = ct_crop.array[np.isin(seg_crop.array, [2, 3])].astype(np.float64)
    pooled = statistics.pooled("kidneys", ["kidney_right", "kidney_left"])
    assert pooled.mean_hu == pytest.approx(kidneys.mean())
    assert pooled.sd_hu == pytest.approx(kidneys.std())
    with pytest.raises(InputError, match="synth-stats"):
        statistics.tissue("brain")


def test_shipped_table_covers_the_example_labels():
    statistics = read_hu_statistics()
    for name in ("liver", "spleen", "kidney_left", "vertebrae_L1", "air", "unlabelled_low", "unlabelled_high"):
        assert statistics.tissue(name).voxels > 0
    assert statistics.tissue("liver").mean_hu == pytest.approx(45, abs=10)


def test_texture_histogram_matches_the_reference_quantiles(statistics):
    noise = multi_octave_noise((8, 64, 64), (3.0, 3.0, 3.0), np.random.default_rng(1))
    assert noise.mean() == pytest.approx(0, abs=1e-5) and noise.std() == pytest.approx(1, abs=1e-4)
    matched = match_quantiles(noise, BODY_PROBABILITIES, statistics.body_quantiles_hu)
    inner = BODY_PROBABILITIES[5:-5]
    np.testing.assert_allclose(np.quantile(matched, inner), statistics.body_quantiles_hu[5:-5], atol=5.0)
    gaussian = match_gaussian(noise, 40.0, 15.0)
    assert gaussian.mean() == pytest.approx(40.0, abs=0.1) and gaussian.std() == pytest.approx(15.0, rel=0.02)


def test_label_groups_merge_and_renumber_consecutively(seg_crop):
    groups = parse_label_groups("liver,kidneys=kidney_left+kidney_right,vertebrae=vertebrae_*")
    labels, names, components = select_labels(seg_crop, totalsegmentator_names(), groups)
    assert names == {1: "liver", 2: "kidneys", 3: "vertebrae"}
    assert sorted(components["kidneys"]) == ["kidney_left", "kidney_right"]
    assert set(np.unique(labels.array)) <= {0, 1, 2, 3}
    assert np.array_equal(labels.array == 2, np.isin(seg_crop.array, [2, 3]))
    with pytest.raises(InputError, match="matches no label"):
        select_labels(seg_crop, totalsegmentator_names(), parse_label_groups("brain"))
