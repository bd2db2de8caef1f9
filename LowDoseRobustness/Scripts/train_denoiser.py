"""Train the RED-CNN denoiser on pairs made by our own simulator, and write the shipped checkpoint.

Pairs: for each training CT, :func:`simulate_dose_series` gives the full-dose
reconstruction (target) and dose-d reconstructions (inputs) through the same
reproject / reconstruct chain; the network learns to remove exactly the noise the
dose reduction adds. Default data: the real example CT outside the slices of
example_ct_sm (those are held out for evaluation), the real DICOM series, and any
extra NIfTI CTs (e.g. SyntheticCT volumes) given with ``--extra``.

    python LowDoseRobustness/Scripts/train_denoiser.py            # ~5 min on 2 CPU cores

Writes ``Resources/Models/denoiser_redcnn.pt`` and a JSON beside it with the settings,
the data, and the held-out noise SD / RMSE before and after denoising.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # LowDoseRobustnessLib, when not installed

from LowDoseRobustnessLib.reconstruction.denoisers.redcnn import DEFAULT_CHECKPOINT, HU_SCALE, RedCnn, denoise_slices  # noqa: E402
from LowDoseRobustnessLib.contract import DEFAULT_INCIDENT_FLUX  # noqa: E402
from LowDoseRobustnessLib.errors import SimulationWarning  # noqa: E402
from LowDoseRobustnessLib.io.volumes import read_volume  # noqa: E402
from LowDoseRobustnessLib.simulation.simulate import SimulationSettings, make_projector, simulate_dose_series  # noqa: E402
from LowDoseRobustnessLib.volume import Volume  # noqa: E402

DATA = HERE.parents[1].parent / "shared" / "data" / "totalsegmentator-examples"
NOISE_KERNEL = "ram-lak"
"""The noise of the training pairs: the band-limited ramp's, the sharpest texture a study's FBP gives."""
HELD_OUT_SLICES = slice(82, 112)
"""example_ct.nii.gz slices 82..111 are example_ct_sm.nii.gz (identical voxels): kept out of training."""
EVALUATION_LABELS = {"liver": 5, "spleen": 1}


def simulated_pairs(volume: Volume, doses: list[float], seeds: list[int], geometry: str) -> list[tuple]:
    """(dose-d HU, full-dose HU) volume pairs from the simulator, one per dose and seed."""
    settings = SimulationSettings(geometry=geometry, kernel=NOISE_KERNEL, incident_flux=DEFAULT_INCIDENT_FLUX)
    projector = make_projector(volume, settings)
    pairs = []
    for seed in seeds:
        series = simulate_dose_series(volume, doses, settings, seed, projector)
        pairs += [(series[d].array, series[1.0].array) for d in doses]
    return pairs


def training_slices(pairs: list[tuple]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    inputs = [slice_ for low, _ in pairs for slice_ in low / HU_SCALE]
    targets = [slice_ for _, full in pairs for slice_ in full / HU_SCALE]
    return inputs, targets


def random_patches(inputs, targets, rng: np.random.Generator, count: int, size: int):
    """``count`` random ``size`` x ``size`` patches, re-drawn while a patch is mostly air."""
    batch_in, batch_target = np.empty((2, count, 1, size, size), np.float32)
    for k in range(count):
        for _ in range(10):
            index = rng.integers(len(inputs))
            ny, nx = inputs[index].shape
            y, x = rng.integers(0, ny - size + 1), rng.integers(0, nx - size + 1)
            target = targets[index][y:y + size, x:x + size]
            if np.mean(target > -0.9) > 0.3:
                break
        batch_in[k, 0], batch_target[k, 0] = inputs[index][y:y + size, x:x + size], target
    return torch.from_numpy(batch_in), torch.from_numpy(batch_target)


def train(inputs, targets, steps: int, batch: int, patch: int, seed: int, learning_rate: float) -> RedCnn:
    """Adam on the MSE between output and full-dose target (the network adds its residual to the input)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    network = RedCnn()
    optimizer = torch.optim.Adam(network.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for step in range(steps):
        noisy, clean = random_patches(inputs, targets, rng, batch, patch)
        loss = torch.nn.functional.mse_loss(network(noisy), clean)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step:5d}  rmse {loss.item() ** 0.5 * HU_SCALE:6.1f} HU", flush=True)
    return network.eval()


def evaluate(network: RedCnn, volume: Volume, labels: np.ndarray, dose: float, geometry: str, seed: int) -> dict:
    """Noise SD in eroded organ ROIs and RMSE vs the full-dose reconstruction, FBP vs FBP + CNN."""
    from scipy.ndimage import binary_erosion

    settings = SimulationSettings(geometry=geometry, kernel=NOISE_KERNEL, incident_flux=DEFAULT_INCIDENT_FLUX)
    series = simulate_dose_series(volume, [dose], settings, seed)
    full, low = series[1.0].array, series[dose].array
    denoised = denoise_slices(network, low)
    metrics = {}
    for name, image in (("fbp", low), ("cnn", denoised)):
        entry = {"rmse_vs_full_dose_hu": float(np.sqrt(np.mean((image - full) ** 2)))}
        for organ, label in EVALUATION_LABELS.items():
            roi = binary_erosion(labels == label, np.ones((1, 5, 5)))
            entry[f"{organ}_sd_hu"] = float(image[roi].std())
            entry[f"{organ}_mean_shift_hu"] = float(image[roi].mean() - full[roi].mean())
        metrics[name] = entry
    return metrics


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder with the TotalSegmentator example CTs")
    parser.add_argument("--extra", nargs="*", default=[], help="more CT volumes in HU (NIfTI ...) to train on")
    parser.add_argument("--doses", type=float, nargs="+", default=[0.2, 0.3, 0.5, 0.8])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0, help="network initialisation and patch sampling")
    parser.add_argument("--output", type=Path, default=DEFAULT_CHECKPOINT)
    arguments = parser.parse_args(argv)
    torch.set_num_threads(2)
    warnings.simplefilter("ignore", SimulationWarning)  # the examples' noise differs from I0 = 1e5's: expected
    started = time.time()

    example = read_volume(arguments.data / "example_ct.nii.gz")
    train_part = Volume(example.array[:HELD_OUT_SLICES.start], example.spacing)
    sources = [("example_ct.nii.gz slices 0-81", train_part, "fast"),
               ("example_ct.nii.gz slices 0-81", train_part, "clinical"),
               ("example_ct_dicom (512x512x20)", read_volume(arguments.data / "example_ct_dicom"), "fast")]
    sources += [(str(path), read_volume(path), "fast") for path in arguments.extra]
    inputs, targets = [], []
    for name, volume, geometry in sources:
        slices = training_slices(simulated_pairs(volume, arguments.doses, arguments.seeds, geometry))
        inputs += slices[0]
        targets += slices[1]
        print(f"{name} ({geometry} geometry): {len(inputs)} slice pairs so far", flush=True)
    simulated = time.time()
    network = train(inputs, targets, arguments.steps, arguments.batch, arguments.patch, arguments.seed,
                    arguments.learning_rate)
    trained = time.time()

    held_out = read_volume(arguments.data / "example_ct_sm.nii.gz")
    labels = read_volume(arguments.data / "example_seg.nii.gz").array
    metrics = {geometry: evaluate(network, held_out, labels, 0.2, geometry, seed=99) for geometry in ("fast", "clinical")}
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"channels": list(network.channels), "state_dict": network.state_dict()}, arguments.output)
    report = {"architecture": "RedCnn (LowDoseRobustnessLib/denoisers/redcnn.py)", "channels": list(network.channels),
              "parameters": sum(p.numel() for p in network.parameters()),
              "training_data": [f"{name}, {geometry} geometry" for name, _, geometry in sources],
              "held_out": "example_ct_sm.nii.gz (= example_ct.nii.gz slices 82-111), ROIs from example_seg.nii.gz",
              "doses": arguments.doses, "noise_seeds": arguments.seeds, "slice_pairs": len(inputs),
              "steps": arguments.steps, "batch": arguments.batch, "patch": arguments.patch,
              "learning_rate": arguments.learning_rate, "seed": arguments.seed, "loss": "MSE on HU/1000",
              "incident_flux": DEFAULT_INCIDENT_FLUX,
              "reconstruction": f"FBP ram-lak band-limited to the image grid, noise kernel {NOISE_KERNEL}",
              "seconds": {"simulation": round(simulated - started), "training": round(trained - simulated)},
              "held_out_metrics_at_dose_0.2": metrics}
    arguments.output.with_suffix(".json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report["held_out_metrics_at_dose_0.2"], indent=2))
    print(f"wrote {arguments.output} in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
