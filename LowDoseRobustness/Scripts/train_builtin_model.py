"""Train the built-in segmenter (``Resources/Models/builtin/builtin_unet.pt``) on (CT, label map) NIfTI pairs.

Label maps carry names in a ``.labels.json`` sidecar (labels.py); without one the
TotalSegmentator ``total`` class map is assumed. All ``vertebrae_*`` labels merge
into one ``vertebrae`` label. Default data: the TotalSegmentator example CT (its
only labelled 30-slice crop), so the model is evaluated on the case it was trained on.

    python LowDoseRobustness/Scripts/train_builtin_model.py [--pair CT.nii.gz SEG.nii.gz ...] [--iterations 1000]
        [--nnunet-dataset SYNTHETIC_DATASET ...]   # e.g. written by `lowdose synth`; names from its dataset.json

Dice is reported on the --pair cases (the real example by default), not on the nnU-Net datasets.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from LowDoseRobustnessLib.io.volumes import read_volume  # noqa: E402
from LowDoseRobustnessLib.io.labels import read_label_names, totalsegmentator_names  # noqa: E402
from LowDoseRobustnessLib.segmenters.builtin import DEFAULT_CHECKPOINT, BuiltinSegmenter, save_checkpoint  # noqa: E402
from LowDoseRobustnessLib.segmenters.builtin_net import TinyUNet3d  # noqa: E402
from LowDoseRobustnessLib.segmenters.intensity import window_channels  # noqa: E402
from LowDoseRobustnessLib.segmenters.resample import to_model_grid  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "totalsegmentator-examples"
TARGET_LABELS = {1: "liver", 2: "spleen", 3: "kidney_right", 4: "kidney_left", 5: "vertebrae"}
CONFIG = {"features": [8, 16, 32, 64], "windows": [[-160.0, 240.0], [-1000.0, 1500.0]],
          "spacing_mm": [3.0, 3.0, 3.0], "labels": {str(k): v for k, v in TARGET_LABELS.items()}}
PATCH_ZYX = (32, 96, 96)


def target_value(source_name: str) -> int:
    """Built-in label value for a source label name (0 when not learned)."""
    merged = "vertebrae" if source_name.startswith("vertebrae_") else source_name
    return {name: value for value, name in TARGET_LABELS.items()}.get(merged, 0)


def label_names(label_path: Path) -> dict[int, str]:
    """Names from the sidecar, else from the dataset.json of an nnU-Net dataset, else TotalSegmentator's."""
    dataset_json = label_path.parent.parent / "dataset.json"
    if not read_label_names(label_path) and label_path.parent.name == "labelsTr" and dataset_json.exists():
        labels = json.loads(dataset_json.read_text())["labels"]
        return {int(value): name for name, value in labels.items() if int(value) > 0}
    return read_label_names(label_path) or totalsegmentator_names("total")


def nnunet_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(image, label map) pairs of an nnU-Net raw dataset (single channel)."""
    return [(folder / "imagesTr" / f"{label.name[:-len('.nii.gz')]}_0000.nii.gz", label)
            for label in sorted((folder / "labelsTr").glob("*.nii.gz"))]


def load_pair(image_path: Path, label_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """HU array and merged label array on the model grid, padded to at least the patch size."""
    names = label_names(label_path)
    lookup = np.zeros(max(names) + 1, np.uint8)
    for value, name in names.items():
        lookup[value] = target_value(name)
    spacing = tuple(CONFIG["spacing_mm"])
    hu = sitk.GetArrayFromImage(to_model_grid(read_volume(image_path), spacing)).astype(np.float32)
    labels = sitk.GetArrayFromImage(to_model_grid(read_volume(label_path), spacing, sitk.sitkNearestNeighbor, 0))
    labels = lookup[np.clip(labels, 0, len(lookup) - 1)]
    padding = [(0, max(0, p - n)) for p, n in zip(PATCH_ZYX, hu.shape)]
    return np.pad(hu, padding, constant_values=-1024.0), np.pad(labels, padding)


def sample_patch(hu: np.ndarray, labels: np.ndarray, rng: np.random.Generator):
    """Random crop with intensity and noise augmentation (no flips: left and right kidney differ)."""
    corner = [rng.integers(0, n - p + 1) for n, p in zip(hu.shape, PATCH_ZYX)]
    window = tuple(slice(c, c + p) for c, p in zip(corner, PATCH_ZYX))
    patch = hu[window] * rng.uniform(0.95, 1.05) + rng.uniform(-30, 30)
    if rng.random() < 0.7:  # quantum noise of a lower dose, in HU
        patch = patch + rng.normal(0.0, rng.uniform(5, 80), patch.shape).astype(np.float32)
    return window_channels(patch, [tuple(w) for w in CONFIG["windows"]]), labels[window].astype(np.int64)


def dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Soft Dice over foreground classes, averaged."""
    probabilities = logits.softmax(1)[:, 1:]
    one_hot = torch.nn.functional.one_hot(target, logits.shape[1]).permute(0, 4, 1, 2, 3)[:, 1:].float()
    overlap = (probabilities * one_hot).sum((0, 2, 3, 4))
    total = probabilities.sum((0, 2, 3, 4)) + one_hot.sum((0, 2, 3, 4))
    return 1.0 - ((2 * overlap + 1.0) / (total + 1.0)).mean()


def train(pairs: list[tuple[Path, Path]], iterations: int, seed: int,
          extra: list[tuple[Path, Path]] = (), extra_fraction: float = 0.5) -> TinyUNet3d:
    """Patches from ``pairs``, and with probability ``extra_fraction`` from ``extra`` (e.g. synthetic CT)."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    data = [load_pair(image, label) for image, label in pairs]
    extra_data = [load_pair(image, label) for image, label in extra]
    network = TinyUNet3d(len(CONFIG["windows"]), len(TARGET_LABELS) + 1, tuple(CONFIG["features"]))
    optimizer = torch.optim.AdamW(network.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=iterations)
    start = time.time()
    for iteration in range(iterations):
        source = extra_data if extra_data and rng.random() < extra_fraction else data
        x, y = sample_patch(*source[rng.integers(len(source))], rng)
        logits = network(torch.from_numpy(x)[None])
        target = torch.from_numpy(y)[None]
        loss = torch.nn.functional.cross_entropy(logits, target) + dice_loss(logits, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if iteration % 50 == 0 or iteration == iterations - 1:
            print(f"iteration {iteration:4d}  loss {loss.item():.3f}  {time.time() - start:.0f} s", flush=True)
    return network.eval()


def dice_by_label(reference: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Dice of each built-in label (reference already merged to built-in values)."""
    return {name: 2 * np.sum((reference == v) & (predicted == v)) / max(1, np.sum(reference == v) + np.sum(predicted == v))
            for v, name in TARGET_LABELS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair", nargs=2, action="append", type=Path, metavar=("CT", "LABELS"),
                        help="training pair (repeatable); default: the TotalSegmentator example")
    parser.add_argument("--nnunet-dataset", type=Path, action="append", default=[],
                        help="also train on this nnU-Net raw dataset, e.g. SyntheticCT output (repeatable)")
    parser.add_argument("--extra-fraction", type=float, default=0.5,
                        help="share of training patches drawn from the --nnunet-dataset cases")
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_CHECKPOINT)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    pairs = arguments.pair or [(EXAMPLES / "example_ct_sm.nii.gz", EXAMPLES / "example_seg.nii.gz")]
    extra = [pair for folder in arguments.nnunet_dataset for pair in nnunet_pairs(folder)]
    network = train(pairs, arguments.iterations, arguments.seed, extra, arguments.extra_fraction)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(arguments.output, network, CONFIG)
    segmenter = BuiltinSegmenter(arguments.output)
    for image, labels in pairs:
        names = label_names(labels)
        lookup = np.vectorize(lambda v: target_value(names.get(int(v), "")))
        reference = lookup(read_volume(labels).array)
        predicted = segmenter.segment(read_volume(image)).label_map.array
        scores = ", ".join(f"{n} {d:.3f}" for n, d in dice_by_label(reference, predicted).items())
        print(f"Dice on {image.name}: {scores}")


if __name__ == "__main__":
    main()
