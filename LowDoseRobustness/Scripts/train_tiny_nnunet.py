"""Train the tiny nnU-Net v2 model in ``Testing/Data/tiny_nnunet`` that the tests use to run nnU-Net and
TotalSegmentator for real, offline.

Its only job is to exercise the invocation paths: a ~0.1 M-parameter 3-stage U-Net,
trained for a few hundred iterations on the TotalSegmentator example CT (30 slices,
3 mm) and a noisy copy of it. Label values are TotalSegmentator's ``total`` values
(1 spleen, 2 kidney_right, 3 kidney_left, 4 gallbladder, 5 liver) so the same
folder also serves as a stand-in for the ``total`` fast (3 mm) weights.

    python LowDoseRobustness/Scripts/train_tiny_nnunet.py [-o Testing/Data/tiny_nnunet] [--epochs 8]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "totalsegmentator-examples"
REPOSITORY = Path(__file__).resolve().parents[2]
DATASET_ID, DATASET_NAME = 501, "Dataset501_TinyTotal"
LABELS = {"background": 0, "spleen": 1, "kidney_right": 2, "kidney_left": 3, "gallbladder": 4, "liver": 5}
TINY_ARCHITECTURE = {"n_stages": 3, "features_per_stage": [8, 16, 32],
                     "kernel_sizes": [[1, 3, 3], [3, 3, 3], [3, 3, 3]], "strides": [[1, 1, 1], [1, 2, 2], [2, 2, 2]],
                     "n_conv_per_stage": [1, 1, 1], "n_conv_per_stage_decoder": [1, 1]}
PATCH_SIZE, BATCH_SIZE = [24, 64, 64], 2


def write_raw_dataset(raw: Path) -> None:
    """Two training cases: the example CT and a copy with 40 HU Gaussian noise; labels beyond liver dropped."""
    folder = raw / DATASET_NAME
    (folder / "imagesTr").mkdir(parents=True)
    (folder / "labelsTr").mkdir()
    image = sitk.ReadImage(str(EXAMPLES / "example_ct_sm.nii.gz"), sitk.sitkFloat32)
    labels = sitk.ReadImage(str(EXAMPLES / "example_seg.nii.gz"))
    kept = sitk.GetArrayFromImage(labels)
    kept[kept > max(LABELS.values())] = 0
    label_image = sitk.GetImageFromArray(kept.astype(np.uint8))
    label_image.CopyInformation(labels)
    noisy = image + sitk.AdditiveGaussianNoise(image * 0, 40.0, 0.0, 1)
    for case, ct in (("case_000", image), ("case_001", noisy)):
        sitk.WriteImage(ct, str(folder / "imagesTr" / f"{case}_0000.nii.gz"))
        sitk.WriteImage(label_image, str(folder / "labelsTr" / f"{case}.nii.gz"))
    (folder / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": "CT"}, "labels": LABELS, "numTraining": 2, "file_ending": ".nii.gz"}, indent=1))


def shrink_plans(preprocessed: Path) -> None:
    """Replace the planned network by the tiny one; one manual split (fold 0: train on both, validate on one)."""
    plans_file = preprocessed / DATASET_NAME / "nnUNetPlans.json"
    plans = json.loads(plans_file.read_text())
    configuration = plans["configurations"]["3d_fullres"]
    configuration["architecture"]["arch_kwargs"].update(TINY_ARCHITECTURE)
    configuration.update(patch_size=PATCH_SIZE, batch_size=BATCH_SIZE,
                         pool_op_kernel_sizes=TINY_ARCHITECTURE["strides"],
                         conv_kernel_sizes=TINY_ARCHITECTURE["kernel_sizes"])
    plans_file.write_text(json.dumps(plans, indent=1))
    (preprocessed / DATASET_NAME / "splits_final.json").write_text(
        json.dumps([{"train": ["case_000", "case_001"], "val": ["case_001"]}]))


def train(epochs: int, iterations_per_epoch: int):
    import torch
    from nnunetv2.experiment_planning.plan_and_preprocess_api import (
        extract_fingerprints, plan_experiments, preprocess)
    from nnunetv2.paths import nnUNet_preprocessed
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    extract_fingerprints([DATASET_ID], num_processes=1, check_dataset_integrity=True)
    os.environ["nnUNet_n_proc_DA"] = "1"  # the planner sets torch threads from it; 0 is refused there
    plan_experiments([DATASET_ID])
    os.environ["nnUNet_n_proc_DA"] = "0"  # augment in the training process: no worker processes
    shrink_plans(Path(nnUNet_preprocessed))
    preprocess([DATASET_ID], configurations=("3d_fullres",), num_processes=(1,))
    folder = Path(nnUNet_preprocessed) / DATASET_NAME
    plans = json.loads((folder / "nnUNetPlans.json").read_text()) | {"continue_training": False}
    trainer = nnUNetTrainer(plans, "3d_fullres", 0,
                            json.loads((folder / "dataset.json").read_text()), device=torch.device("cpu"))
    trainer.num_epochs, trainer.num_iterations_per_epoch = epochs, iterations_per_epoch
    trainer.num_val_iterations_per_epoch = 2
    trainer.run_training()
    return Path(trainer.output_folder_base)


def export_model(trained: Path, output: Path) -> None:
    """Copy plans/dataset/fingerprint and a slim fold-0 checkpoint (no optimizer state)."""
    import torch

    if output.exists():
        shutil.rmtree(output)
    (output / "fold_0").mkdir(parents=True)
    for name in ("plans.json", "dataset.json", "dataset_fingerprint.json"):
        shutil.copy(trained / name, output / name)
    checkpoint = torch.load(trained / "fold_0" / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    slim = {key: checkpoint[key] for key in
            ("network_weights", "init_args", "trainer_name", "inference_allowed_mirroring_axes")}
    torch.save(slim, output / "fold_0" / "checkpoint_final.pth")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", type=Path, default=REPOSITORY / "Testing" / "Data" / "tiny_nnunet")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--iterations-per-epoch", type=int, default=25)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tiny_nnunet_") as work:
        for variable in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"):
            os.environ[variable] = str(Path(work) / variable)
            Path(os.environ[variable]).mkdir()
        os.environ.setdefault("nnUNet_compile", "false")
        write_raw_dataset(Path(os.environ["nnUNet_raw"]))
        start = time.time()
        trained = train(arguments.epochs, arguments.iterations_per_epoch)
        export_model(trained, arguments.output)
    print(f"tiny nnU-Net written to {arguments.output} after {time.time() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
