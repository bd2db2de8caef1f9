"""nnU-Net v2: any trained model folder (``plans.json``, ``dataset.json``, ``fold_N/checkpoint_*.pth``)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path


from LowDoseRobustnessLib.io.volumes import read_volume, to_sitk, write_volume
from LowDoseRobustnessLib.io.labels import LabelNames
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume
from LowDoseRobustnessLib.segmenters.base import Progress, Segmentation, report, torch_device
from LowDoseRobustnessLib.segmenters.resample import label_map_to_grid

MODEL_FILES = ("plans.json", "dataset.json")


def label_names_of(dataset_json: dict) -> LabelNames:
    """Names of the integer labels in an nnU-Net ``dataset.json`` (region-based labels are refused)."""
    names = {}
    for name, value in dataset_json["labels"].items():
        if not isinstance(value, int):
            raise InputError(f"label {name!r} is a region {value}; region-based nnU-Net models are not supported")
        if value != 0:
            names[value] = name
    return names


def available_folds(model_folder: Path, checkpoint: str) -> list[str]:
    """Folds (``"0"``.. or ``"all"``) that hold ``checkpoint``."""
    return sorted(p.parent.name.removeprefix("fold_") for p in model_folder.glob(f"fold_*/{checkpoint}"))


def check_model_folder(model_folder: Path, folds: tuple[str, ...] | None, checkpoint: str) -> tuple[str, ...]:
    """The folds to use; an InputError naming what is missing when the folder is not a trained model."""
    missing = [name for name in MODEL_FILES if not (model_folder / name).is_file()]
    if missing:
        raise InputError(f"{model_folder} is not a trained nnU-Net v2 model folder: {', '.join(missing)} missing "
                         "(point to the folder named like nnUNetTrainer__nnUNetPlans__3d_fullres)")
    found = available_folds(model_folder, checkpoint)
    if not found:
        raise InputError(f"no fold_*/{checkpoint} in {model_folder}")
    unknown = sorted(set(folds or ()) - set(found))
    if unknown:
        raise InputError(f"fold(s) {', '.join(unknown)} have no {checkpoint} in {model_folder}; available: {found}")
    return tuple(folds) if folds else tuple(found)


class NnUNetSegmenter:
    """Inference with ``nnUNetPredictor``: fold ensemble, checkpoint choice, mirroring TTA on/off (the paper: off)."""

    def __init__(self, model_folder: str | Path, folds: tuple[str, ...] | None = None,
                 checkpoint: str = "checkpoint_final.pth", tta: bool = False, device: str = "cpu",
                 tile_step_size: float = 0.5):
        from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

        self.model_folder = Path(model_folder)
        self.folds = check_model_folder(self.model_folder, folds, checkpoint)
        self.predictor = nnUNetPredictor(tile_step_size=tile_step_size, use_mirroring=tta,
                                         device=torch_device(device), allow_tqdm=False)
        self.predictor.initialize_from_trained_model_folder(
            str(self.model_folder), tuple(f if f == "all" else int(f) for f in self.folds), checkpoint)
        self.names = label_names_of(json.loads((self.model_folder / "dataset.json").read_text()))

    def segment(self, volume: Volume, progress: Progress | None = None) -> Segmentation:
        report(progress, 0.0, "reading the volume the way the model was trained (nnU-Net reader)")
        reader_writer = self.predictor.plans_manager.image_reader_writer_class()
        with tempfile.TemporaryDirectory(prefix="lowdose_nnunet_") as work:
            image_file = write_volume(volume, Path(work) / "image_0000.nii.gz")
            image, properties = reader_writer.read_images([str(image_file)])
            report(progress, 0.1, f"nnU-Net inference, folds {', '.join(self.folds)}")
            labels = self.predictor.predict_single_npy_array(image, properties)
            report(progress, 0.9, "resampling labels to the input grid")
            reader_writer.write_seg(labels, str(Path(work) / "labels.nii.gz"), properties)
            label_map = read_volume(Path(work) / "labels.nii.gz")
        segmentation = Segmentation(label_map_to_grid(to_sitk(label_map), volume), dict(self.names))
        report(progress, 1.0, "done")
        return segmentation

    def label_groups(self) -> dict[str, list[int]]:
        return {"all": sorted(self.names)}
