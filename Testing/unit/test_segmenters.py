"""Segmenters on the real example CT through their real library calls (built-in U-Net, tiny nnU-Net, MONAI)."""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from LowDoseRobustnessLib.io.volumes import read_volume, to_sitk
from LowDoseRobustnessLib.io.labels import totalsegmentator_names
from LowDoseRobustnessLib.segmenters import get_segmenter
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume
from segmenter_fixtures import EXAMPLES, TINY_NNUNET, write_tiny_monai

pytestmark = pytest.mark.skipif(not EXAMPLES.exists(), reason="TotalSegmentator example data not available")


def resampled(volume: Volume, spacing_mm, crop_xyz=None) -> Volume:
    """The volume on another grid (different voxel size, optionally cropped) to test the way back."""
    image = to_sitk(volume)
    if crop_xyz:
        image = image[tuple(slice(*c) for c in crop_xyz)]
    size = [int(n * s / t) for n, s, t in zip(image.GetSize(), image.GetSpacing(), spacing_mm)]
    image = sitk.Resample(image, size, sitk.Transform(), sitk.sitkLinear, image.GetOrigin(), spacing_mm,
                          image.GetDirection(), -1024.0)
    return Volume(sitk.GetArrayFromImage(image), image.GetSpacing(), image.GetOrigin(), image.GetDirection())


@pytest.fixture(scope="module")
def ct() -> Volume:
    return read_volume(EXAMPLES / "example_ct_sm.nii.gz")


@pytest.fixture(scope="module")
def small_ct(ct) -> Volume:
    """A 2.5 mm crop around liver and right kidney: another grid than the models'."""
    return resampled(ct, (2.5, 2.5, 2.5), crop_xyz=[(10, 70), (20, 80), (0, 30)])


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.sum(a & b) / max(1, np.sum(a) + np.sum(b))


def test_builtin_segments_example_ct_with_dice_above_07(ct):
    segmentation = get_segmenter("builtin").segment(ct)
    reference = read_volume(EXAMPLES / "example_seg.nii.gz").array
    total = {name: value for value, name in totalsegmentator_names("total").items()}
    assert segmentation.label_map.same_grid(ct)
    vertebrae = [value for name, value in total.items() if name.startswith("vertebrae_")]
    references = {name: reference == total[name] for name in ("liver", "spleen", "kidney_right", "kidney_left")}
    references["vertebrae"] = np.isin(reference, vertebrae)
    scores = {name: dice(segmentation.mask(name), mask) for name, mask in references.items()}
    assert min(scores.values()) > 0.7, scores


def test_builtin_label_groups_split_organs_and_vertebrae():
    segmenter = get_segmenter("builtin")
    groups = segmenter.label_groups()
    assert [segmenter.names[v] for v in groups["vertebrae"]] == ["vertebrae"]
    assert {"liver", "spleen"} <= {segmenter.names[v] for v in groups["organs"]}


def test_nnunet_model_folder_returns_labels_on_the_input_grid(small_ct):
    segmenter = get_segmenter(f"nnunet:{TINY_NNUNET}", folds=("0",))
    segmentation = segmenter.segment(small_ct)
    assert segmentation.label_map.same_grid(small_ct)
    assert segmentation.names == {1: "spleen", 2: "kidney_right", 3: "kidney_left", 4: "gallbladder", 5: "liver"}
    assert set(np.unique(segmentation.label_map.array)) <= {0, 1, 2, 3, 4, 5}


def test_nnunet_test_time_augmentation_is_off_unless_asked():
    assert not get_segmenter(f"nnunet:{TINY_NNUNET}").predictor.use_mirroring
    assert get_segmenter(f"nnunet:{TINY_NNUNET}", tta=True).predictor.use_mirroring


@pytest.mark.parametrize("spec, options, message", [
    ("nnunet:/no/such/model", {}, "not a trained nnU-Net v2 model folder"),
    (f"nnunet:{TINY_NNUNET}", {"folds": ("3",)}, "fold(s) 3 have no checkpoint_final.pth"),
    (f"nnunet:{TINY_NNUNET}", {"checkpoint": "checkpoint_best.pth"}, "no fold_*/checkpoint_best.pth"),
    ("nnunet", {}, "needs an argument: nnunet:MODEL_FOLDER"),
    ("monai:/no/such/config.json", {}, "MONAI model config not found"),
    ("builtin:/no/such/model.pt", {}, "built-in model checkpoint not found"),
    ("deeplab", {}, "unknown segmenter 'deeplab'"),
    ("builtin", {"tta": True}, "takes no option tta"),
])
def test_bad_model_choices_are_clear_input_errors(spec, options, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        get_segmenter(spec, **options)


@pytest.mark.parametrize("network", ["UNet", "SegResNet", "UNETR", "SwinUNETR"])
def test_monai_network_from_config_segments_on_the_input_grid(network, small_ct, tmp_path):
    segmenter = get_segmenter(f"monai:{write_tiny_monai(tmp_path, network)}")
    segmentation = segmenter.segment(small_ct)
    assert segmentation.label_map.same_grid(small_ct)
    assert segmentation.names == {1: "liver", 2: "spleen"}
    assert set(np.unique(segmentation.label_map.array)) <= {0, 1, 2}


def test_monai_config_missing_keys_is_named(tmp_path):
    config = tmp_path / "model.yaml"
    config.write_text("network: {name: UNet}\ncheckpoint: model.pt\n")
    with pytest.raises(InputError, match="lacks windows_hu, roi_size, labels"):
        get_segmenter(f"monai:{config}")
