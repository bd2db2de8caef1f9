"""Per-label Dice, HD95, surface Dice, volumes and effective radius (metrics.py)."""

import numpy as np
import pytest
from scipy import ndimage

from LowDoseRobustnessLib.io.volumes import read_volume
from LowDoseRobustnessLib.contract import ABSENT_IN_BOTH, ONLY_IN_REFERENCE, ONLY_IN_TEST, PRESENT_IN_BOTH
from LowDoseRobustnessLib.evaluation.metrics import compare_label_maps, effective_radius_mm, label_boundary
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume

from shared_data import EXAMPLES


def cube(shape, corner, side, label=1):
    """A label map with one cube of ``side`` voxels starting at ``corner`` (z, y, x)."""
    labels = np.zeros(shape, dtype=np.uint8)
    labels[tuple(slice(c, c + side) for c in corner)] = label
    return labels


def row_of(table, label):
    return table.set_index("label").loc[label]


@pytest.mark.parametrize("axis, hd95_mm", [(2, 0.5), (1, 1.0), (0, 2.0)])
def test_cube_shifted_by_one_voxel_on_anisotropic_grid(axis, hd95_mm):
    # spacing (x, y, z) = (0.5, 1, 2) mm; array axes are (z, y, x): a shift along array axis 0 is 2 mm
    corner = [4, 4, 4]
    shifted = list(corner)
    shifted[axis] += 1
    reference = Volume(cube((20, 20, 20), corner, 10), spacing=(0.5, 1.0, 2.0))
    test = reference.with_array(cube((20, 20, 20), shifted, 10))
    row = row_of(compare_label_maps(reference, test, hd_voxel_units=True), 1)
    assert row["dice"] == 0.9  # 2 * 900 / (1000 + 1000)
    assert row["hd95_mm"] == pytest.approx(hd95_mm)
    assert row["hd95_vox"] == pytest.approx(1.0)
    assert row["volume_ref_ml"] == pytest.approx(1000 * 0.5 * 1.0 * 2.0 / 1000)
    assert row["status"] == PRESENT_IN_BOTH


def test_nested_cubes_give_face_edge_and_corner_distances():
    reference = Volume(cube((20, 20, 20), (5, 5, 5), 10))
    test = reference.with_array(cube((20, 20, 20), (3, 3, 3), 14))
    table = compare_label_maps(reference, test, hd_voxel_units=True)
    # inner boundary (488 voxels): all at 2. Outer boundary (1016): 600 face voxels facing the inner
    # cube at 2, 240 beside them at sqrt(5), 144 at sqrt(8) (the 95th percentile), 24 at 3, 8 at sqrt(12)
    assert row_of(table, 1)["hd95_mm"] == pytest.approx(2 * np.sqrt(2))
    assert row_of(table, 1)["dice"] == pytest.approx(2 * 1000 / (1000 + 14**3))
    maximum = compare_label_maps(reference, test, hd_percentile=100)
    assert row_of(maximum, 1)["hd100_mm"] == pytest.approx(2 * np.sqrt(3))
    tolerance = compare_label_maps(reference, test, surface_tolerance_mm=2.0)
    assert row_of(tolerance, 1)["surface_dice"] == pytest.approx((488 + 600) / (488 + 1016))


def test_identical_maps_agree_perfectly():
    reference = Volume(cube((12, 12, 12), (2, 2, 2), 6, label=3))
    row = row_of(compare_label_maps(reference, reference), 3)
    assert (row["dice"], row["hd95_mm"], row["surface_dice"]) == (1.0, 0.0, 1.0)


def test_effective_radius_of_a_sphere():
    radius_mm = 12.0
    volume_ml = 4.0 / 3.0 * np.pi * radius_mm**3 / 1000.0
    assert effective_radius_mm(volume_ml) == pytest.approx(radius_mm)
    row = row_of(compare_label_maps(*(2 * [Volume(cube((10, 10, 10), (0, 0, 0), 10), spacing=(2, 2, 2))])), 1)
    assert row["r_eff_mm"] == pytest.approx(effective_radius_mm(8.0))


def test_empty_masks_and_labels_present_in_one_map_only():
    reference = Volume(cube((12, 12, 12), (1, 1, 1), 4, label=1) + cube((12, 12, 12), (7, 7, 7), 4, label=2))
    test = reference.with_array(cube((12, 12, 12), (1, 1, 1), 4, label=1) + cube((12, 12, 12), (7, 1, 1), 4, label=5))
    table = compare_label_maps(reference, test, hd_voxel_units=True)
    assert table["label"].tolist() == [1, 2, 5]  # every label found in either map
    missed, added = row_of(table, 2), row_of(table, 5)
    assert missed["status"] == ONLY_IN_REFERENCE and added["status"] == ONLY_IN_TEST
    for row in (missed, added):
        assert row["dice"] == 0.0 and row["surface_dice"] == 0.0
        assert np.isinf(row["hd95_mm"]) and np.isinf(row["hd95_vox"])
    assert added["volume_ref_ml"] == 0.0 and added["r_eff_mm"] == 0.0
    with pytest.warns(UserWarning, match="9 are in neither map"):  # asked for, but nothing to measure
        absent = row_of(compare_label_maps(reference, test, labels=[9]), 9)
    assert absent["status"] == ABSENT_IN_BOTH
    assert (absent["dice"], absent["hd95_mm"], absent["surface_dice"]) == (1.0, 0.0, 1.0)


def test_label_values_above_255():
    labels = np.zeros((10, 10, 10), dtype=np.int32)
    labels[2:5, 2:5, 2:5], labels[5:8, 5:8, 5:8] = 300, 70000
    test = labels.copy()
    test[2:5, 2:5, 5] = 300
    table = compare_label_maps(Volume(labels), Volume(test))
    assert table["label"].tolist() == [300, 70000]
    assert table["dice"].tolist() == [2 * 27 / (27 + 36), 1.0]
    assert row_of(table, 300)["hd95_mm"] == 1.0


def test_names_fill_the_name_column():
    reference = Volume(cube((8, 8, 8), (2, 2, 2), 3, label=4))
    table = compare_label_maps(reference, reference, names={4: "gallbladder"})
    assert table["name"].tolist() == ["gallbladder"]


def test_mismatched_grids_need_resampling():
    reference = Volume(cube((16, 16, 16), (4, 4, 4), 8), spacing=(1, 1, 1))
    coarse = Volume(cube((8, 8, 8), (2, 2, 2), 4), spacing=(2, 2, 2), origin=(0.5, 0.5, 0.5))
    with pytest.raises(InputError, match="different grids"):
        compare_label_maps(reference, coarse)
    row = row_of(compare_label_maps(reference, coarse, resample=True), 1)
    assert row["dice"] == 1.0  # the 2 mm cube covers exactly the same 1 mm voxels


@pytest.mark.parametrize("array, message", [
    (np.full((3, 3, 3), -1, dtype=np.int16), "negative"),
    (np.full((3, 3, 3), 0.5), "fractional"),
])
def test_bad_label_maps_are_refused(array, message):
    with pytest.raises(InputError, match=message):
        compare_label_maps(Volume(array), Volume(array))


def test_background_is_not_a_label_to_compare():
    reference = Volume(cube((6, 6, 6), (1, 1, 1), 2))
    with pytest.raises(InputError, match="positive"):
        compare_label_maps(reference, reference, labels=[0, 1])


def test_boundary_is_mask_minus_its_erosion_for_every_label():
    labels = random_label_map(np.random.default_rng(1), (14, 15, 16), 4)
    boundary = label_boundary(labels)
    for label in range(1, 5):
        mask = labels == label
        expected = mask & ~ndimage.binary_erosion(mask, border_value=0)
        np.testing.assert_array_equal(boundary & mask, expected)


def random_label_map(rng, shape, label_count, smoothing=2.0):
    """Smooth random blobs: a label map with ``label_count`` labels and background."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), smoothing)
    edges = np.quantile(field, np.linspace(0.3, 1.0, label_count + 1)[:-1])
    return np.digitize(field, edges).astype(np.uint8)


def cross_check(reference: Volume, test: Volume, table):
    """Dice exactly and HD95 to MONAI's rounding; surface-distance within a voxel diagonal."""
    torch = pytest.importorskip("torch")
    monai_metrics = pytest.importorskip("monai.metrics")
    surface_distance = pytest.importorskip("surface_distance")
    spacing = reference.spacing[::-1]
    diagonal_mm = float(np.linalg.norm(spacing))
    for row in table[table["status"] == PRESENT_IN_BOTH].itertuples():
        x, y = reference.array == row.label, test.array == row.label
        assert row.dice == surface_distance.compute_dice_coefficient(x, y)
        as_batch = [torch.from_numpy(mask)[None, None] for mask in (y, x)]
        monai_hd95 = float(monai_metrics.compute_hausdorff_distance(*as_batch, percentile=95, spacing=spacing))
        assert row.hd95_mm == pytest.approx(monai_hd95, abs=1e-4)
        monai_nsd = float(monai_metrics.compute_surface_dice(*as_batch, [2.0], include_background=True,
                                                             spacing=spacing))
        assert row.surface_dice == pytest.approx(monai_nsd, abs=1e-6)
        distances = surface_distance.compute_surface_distances(x, y, spacing)
        # surface-distance weighs surface elements by area, which moves the 95th percentile by
        # a few percentile points where the distances jump (a far-away fragment)
        nearby = [surface_distance.compute_robust_hausdorff(distances, p) for p in (93, 95, 97)]
        assert min(abs(row.hd95_mm - value) for value in nearby) <= diagonal_mm


@pytest.mark.filterwarnings("ignore::FutureWarning")  # MONAI's own deprecation inside compute_hausdorff_distance
def test_cross_check_on_random_blobs_with_anisotropic_spacing():
    rng = np.random.default_rng(7)
    labels = random_label_map(rng, (18, 22, 26), 3)
    noisy = random_label_map(rng, (18, 22, 26), 3, smoothing=1.0)
    reference = Volume(labels, spacing=(0.8, 0.9, 2.5))
    test = reference.with_array(np.where(rng.random(labels.shape) < 0.1, noisy, labels))
    table = compare_label_maps(reference, test, surface_tolerance_mm=2.0)
    assert len(table) == 3
    cross_check(reference, test, table)


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.skipif(not (EXAMPLES / "example_seg.nii.gz").exists(), reason="shared example data missing")
def test_cross_check_on_real_totalsegmentator_pair():
    reference = read_volume(EXAMPLES / "example_seg.nii.gz")
    test = read_volume(EXAMPLES / "example_seg_fast.nii.gz")
    table = compare_label_maps(reference, test, surface_tolerance_mm=2.0)
    assert (table["status"] == PRESENT_IN_BOTH).sum() >= 30
    cross_check(reference, test, table)
