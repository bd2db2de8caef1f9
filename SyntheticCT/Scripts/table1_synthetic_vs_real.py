"""A small version of Table 1 of Tsanda et al., "Learning CT Segmentation from Label Masks Only".

Synthetic datasets (strategies single / constant / texture, CT noise on) are generated from
the TotalSegmentator example label map alone, a tiny 3D U-Net is trained on each and one on
the real example CT, and all are scored by Dice on the real example CT against its labels
(liver, spleen, kidneys, vertebrae merged). Largest connected component per label, as the paper.
The synthetic scans' noise is matched to the real CT's (simulator's incident-flux calibration in the liver).

Caveat: one example case only. The real-data model is trained and tested on the same CT
(an optimistic upper bound); the synthetic models never see a real image.
The minimal training loop here should give way to the built-in segmentation model's trainer.

    PYTHONPATH=LowDoseRobustness:SyntheticCT python SyntheticCT/Scripts/table1_synthetic_vs_real.py -o out/table1
"""
from __future__ import annotations

import argparse
import csv
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.losses import DiceCELoss
from monai.networks.nets import UNet
from scipy import ndimage

from LowDoseRobustnessLib.io.volumes import read_volume
from LowDoseRobustnessLib.io.labels import totalsegmentator_names
from LowDoseRobustnessLib.simulation.simulate import calibrate_incident_flux
from LowDoseRobustnessLib.volume import Volume
from SyntheticCTLib.augment import Augmentation
from SyntheticCTLib.dataset import write_nnunet_dataset
from SyntheticCTLib.generate import SynthesisSettings, generate_cases
from SyntheticCTLib.noise import FAST_SIMULATION
from SyntheticCTLib.hu_statistics import read_hu_statistics
from SyntheticCTLib.label_groups import ABDOMINAL_ORGANS, parse_label_groups, select_labels

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "totalsegmentator-examples"
WINDOW_HU = (-200.0, 400.0)
PATCH = (16, 64, 64)


def normalise(hu: np.ndarray) -> np.ndarray:
    """The same fixed CT normalisation for every model (the paper re-uses the real data's)."""
    low, high = WINDOW_HU
    return ((np.clip(hu, low, high) - (low + high) / 2) / ((high - low) / 2)).astype(np.float32)


def matched_incident_flux(ct: Volume, organ: np.ndarray) -> float:
    """I0 at which the simulator reproduces the real CT's noise SD in the largest cube inside ``organ``."""
    distance = ndimage.distance_transform_edt(organ)
    centre = np.unravel_index(np.argmax(distance), distance.shape)
    half = max(1, int(distance[centre] / np.sqrt(3)))
    roi = tuple(slice(max(0, c - half), c + half + 1) for c in centre)
    return calibrate_incident_flux(ct, roi, FAST_SIMULATION)


def read_nnunet_cases(folder: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(HU, labels) arrays of every case in an nnU-Net raw dataset folder."""
    suffix = "_0000.nii.gz"
    return [(read_volume(image).array, read_volume(folder / "labelsTr" / (image.name[: -len(suffix)] + ".nii.gz")).array)
            for image in sorted((folder / "imagesTr").glob("*" + suffix))]


def random_patch(image: np.ndarray, labels: np.ndarray, rng: np.random.Generator):
    """A PATCH-sized crop, centred on a labelled voxel half of the time."""
    foreground = np.argwhere(labels > 0)
    if foreground.size and rng.random() < 0.5:
        centre = foreground[rng.integers(len(foreground))]
    else:
        centre = [rng.integers(n) for n in image.shape]
    start = [int(np.clip(c - p // 2, 0, n - p)) for c, p, n in zip(centre, PATCH, image.shape)]
    box = tuple(slice(s, s + p) for s, p in zip(start, PATCH))
    return image[box], labels[box]


def train(cases, n_classes: int, iterations: int, seed: int) -> torch.nn.Module:
    """A tiny 3D U-Net (8-16-32 channels) trained with Dice + cross-entropy on random patches, batch 2."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    network = UNet(3, 1, n_classes, channels=(8, 16, 32), strides=(2, 2), num_res_units=1)
    optimiser = torch.optim.Adam(network.parameters(), 3e-3)
    loss_function = DiceCELoss(to_onehot_y=True, softmax=True)
    prepared = [(normalise(hu), labels.astype(np.int64)) for hu, labels in cases]
    for _ in range(iterations):
        batch = [random_patch(*prepared[rng.integers(len(prepared))], rng) for _ in range(2)]
        images = torch.from_numpy(np.stack([b[0] for b in batch])[:, None])
        targets = torch.from_numpy(np.stack([b[1] for b in batch])[:, None])
        optimiser.zero_grad()
        loss_function(network(images), targets).backward()
        optimiser.step()
    return network.eval()


def segment(network: torch.nn.Module, hu: np.ndarray) -> np.ndarray:
    """Labels by sliding-window inference, then the largest connected component of each label."""
    with torch.no_grad():
        logits = sliding_window_inference(torch.from_numpy(normalise(hu))[None, None], PATCH, 4, network, overlap=0.5)
    labels = logits.argmax(1)[0].numpy()
    kept = np.zeros_like(labels)
    for value in np.unique(labels[labels > 0]):
        components, count = ndimage.label(labels == value)
        sizes = ndimage.sum_labels(np.ones_like(labels), components, range(1, count + 1))
        kept[components == 1 + int(np.argmax(sizes))] = value
    return kept


def dice(prediction: np.ndarray, reference: np.ndarray) -> float:
    """2|A n B| / (|A| + |B|); 1 when both are empty."""
    total = prediction.sum() + reference.sum()
    return 1.0 if total == 0 else float(2 * np.logical_and(prediction, reference).sum() / total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", default="out/table1", help="folder for the datasets and table1.csv")
    parser.add_argument("--count", type=int, default=8, help="synthetic cases per strategy")
    parser.add_argument("--iterations", type=int, default=400, help="training iterations per model")
    parser.add_argument("--strategies", nargs="+", default=["single", "constant", "texture"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--incident-flux", type=float,
                        help="I0 of the simulated scans (default: matched to the real CT's noise in the liver)")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    output = Path(arguments.output)

    ct = read_volume(EXAMPLES / "example_ct_sm.nii.gz")
    labels, names, components = select_labels(read_volume(EXAMPLES / "example_seg.nii.gz"), totalsegmentator_names(),
                                              parse_label_groups(ABDOMINAL_ORGANS))
    statistics = read_hu_statistics()
    liver = next(value for value, name in names.items() if name == "liver")
    flux = arguments.incident_flux or matched_incident_flux(ct, labels.array == liver)
    print(f"synthetic scans at I0 = {flux:.3g} photons per detector pixel and view")
    training_sets = {"real CT": [(ct.array, labels.array)]}
    for number, strategy in enumerate(arguments.strategies, start=901):
        started = time.time()
        settings = SynthesisSettings(strategy, Augmentation(drop_probability=0.5, rotation_max_deg=16.0),
                                     simulation=replace(FAST_SIMULATION, incident_flux=flux))
        cases = generate_cases(labels, names, components, statistics, settings, arguments.count, arguments.seed)
        folder = output / f"Dataset{number}_Synthetic{strategy.capitalize()}"
        write_nnunet_dataset(folder, ((c.image, c.labels) for c in cases), names, f"SyntheticCT {strategy}",
                             overwrite=True)
        training_sets[f"synthetic {strategy}"] = read_nnunet_cases(folder)
        print(f"generated {folder} in {time.time() - started:.0f} s")

    scores = {}
    for model, cases in training_sets.items():
        started = time.time()
        network = train(cases, len(names) + 1, arguments.iterations, arguments.seed)
        prediction = segment(network, ct.array)
        scores[model] = {name: dice(prediction == value, labels.array == value) for value, name in names.items()}
        print(f"trained and scored '{model}' in {time.time() - started:.0f} s")

    header = ["label", *scores]
    rows = [[name, *(scores[m][name] for m in scores)] for name in names.values()]
    rows.append(["mean", *(np.mean(list(scores[m].values())) for m in scores)])
    output.mkdir(parents=True, exist_ok=True)
    with (output / "table1.csv").open("w", newline="") as stream:
        csv.writer(stream).writerows([header, *[[r[0], *(f"{v:.3f}" for v in r[1:])] for r in rows]])
    print("\nDice on the real example CT (example_ct_sm vs example_seg)")
    print(" | ".join(f"{h:>18}" for h in header))
    for row in rows:
        print(" | ".join([f"{row[0]:>18}", *(f"{v:18.3f}" for v in row[1:])]))
    print(f"\nwrote {output / 'table1.csv'}")


if __name__ == "__main__":
    main()
