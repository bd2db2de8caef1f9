"""The three strategies of Tsanda et al. and the Kloenne et al. augmentations."""
import numpy as np
import pytest

from LowDoseRobustnessLib.errors import InputError
from SyntheticCTLib.augment import (Augmentation, TISSUE_WINDOW_EDGES_HU, drop_labels, intensity_range_shift,
                                    rotate_axial, window_quantiles)
from SyntheticCTLib.body import AIR, CLUSTER_HIGH, CLUSTER_LOW, tissue_classes_from_ct, tissue_classes_from_labels
from SyntheticCTLib.generate import label_tissues
from SyntheticCTLib.hu_statistics import BODY_PROBABILITIES
from SyntheticCTLib.strategies import all_labels, single_label


def test_constant_strategy_draws_each_label_from_its_gaussian(organs, statistics, ct_crop):
    labels, names, components = organs
    tissues = label_tissues(names, components, statistics)
    classes = tissue_classes_from_ct(ct_crop.array, labels.array)
    levels = {value: [] for value in names}
    for seed in range(300):
        hu = all_labels(labels, classes, tissues, statistics, np.random.default_rng(seed), textured=False).array
        for value in names:
            voxels = hu[labels.array == value]
            assert np.ptp(voxels) == 0  # piecewise constant
            levels[value].append(voxels[0])
    for value, drawn in levels.items():
        tissue = tissues[value]
        standard_error = tissue.sd_hu / np.sqrt(len(drawn))
        assert np.mean(drawn) == pytest.approx(tissue.mean_hu, abs=4 * standard_error)
        assert np.std(drawn) == pytest.approx(tissue.sd_hu, rel=0.2)


def test_texture_strategy_regions_follow_their_gaussian_width(organs, statistics, ct_crop):
    labels, names, components = organs
    tissues = label_tissues(names, components, statistics)
    classes = tissue_classes_from_ct(ct_crop.array, labels.array)
    hu = all_labels(labels, classes, tissues, statistics, np.random.default_rng(0), textured=True).array
    liver = hu[labels.array == 1]
    assert liver.std() == pytest.approx(tissues[1].sd_hu, rel=0.05)
    assert abs(liver.mean() - tissues[1].mean_hu) < 5 * tissues[1].sd_hu


def test_single_label_body_is_histogram_matched_and_labels_are_constants(organs, statistics):
    labels, names, components = organs
    tissues = label_tissues(names, components, statistics)
    hu = single_label(labels, tissues, statistics, np.random.default_rng(2)).array
    assert np.ptp(hu[labels.array == 1]) == 0
    body = (hu > -1000) & (labels.array == 0)
    median = np.interp(0.5, BODY_PROBABILITIES, statistics.body_quantiles_hu)
    assert np.median(hu[body]) == pytest.approx(median, abs=40)
    assert hu[0, 0, 0] == -1000  # air outside the cylinder


def test_tissue_classes_split_unlabelled_voxels(organs, ct_crop):
    labels, _, _ = organs
    from_ct = tissue_classes_from_ct(ct_crop.array, labels.array)
    assert np.all(ct_crop.array[from_ct == AIR] < -500)
    assert ct_crop.array[from_ct == CLUSTER_LOW].mean() < ct_crop.array[from_ct == CLUSTER_HIGH].mean()
    from_labels = tissue_classes_from_labels(labels.array, labels.spacing, np.random.default_rng(0))
    assert np.all(from_labels[labels.array > 0] < 0) and np.all(from_labels[labels.array == 0] >= 0)
    assert {AIR, CLUSTER_LOW, CLUSTER_HIGH} <= set(np.unique(from_labels))


def test_label_drop_probability():
    labels = np.repeat(np.arange(1, 101, dtype=np.uint8), 10).reshape(1, 10, 100)
    kept, dropped = drop_labels(labels, 0.5, np.random.default_rng(0))
    assert 35 <= len(dropped) <= 65
    assert not np.isin(kept, dropped).any() and np.all(kept[np.isin(labels, dropped)] == 0)
    assert drop_labels(labels, 0.0, np.random.default_rng(0))[1] == []


def test_rotation_moves_image_and_labels_together():
    labels = np.zeros((2, 64, 64), dtype=np.uint8)
    labels[:, 20:40, 30:50] = 3
    hu = np.where(labels == 3, 60.0, -1000.0).astype(np.float32)
    rotated_hu, rotated_labels = rotate_axial(hu, labels, 16.0)
    assert set(np.unique(rotated_labels)) == {0, 3}
    interior = rotated_labels == 3
    assert np.mean(np.abs(rotated_hu[interior] - 60.0) < 1.0) > 0.8
    assert abs(int(interior.sum()) - int((labels == 3).sum())) < 0.05 * (labels == 3).sum()


def test_windowing_and_intensity_range_shift():
    hu = np.linspace(-1200, 2000, 10_000, dtype=np.float32)
    windowed = window_quantiles(hu, 0.6, 0.99)
    assert windowed.min() == pytest.approx(np.quantile(hu, 0.6)) and windowed.max() == pytest.approx(np.quantile(hu, 0.99))
    shifted = intensity_range_shift(hu, 20.0, np.random.default_rng(0))
    assert np.all(np.diff(shifted) >= 0)  # order of tissues kept
    assert np.max(np.abs(shifted - hu)) <= 20.0 + 1e-3
    outside = (hu < TISSUE_WINDOW_EDGES_HU[0]) | (hu > TISSUE_WINDOW_EDGES_HU[-1])
    assert np.array_equal(shifted[outside], hu[outside])
    with pytest.raises(InputError):
        Augmentation(intensity_shift_hu=500)
    with pytest.raises(InputError):
        Augmentation(drop_probability=1.5)
