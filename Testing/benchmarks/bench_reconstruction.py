"""Time, noise and error of every reconstruction option for a 256 x 256 x 64 CT at d = 0.2 on the CPU.

The real example CT is padded square, resampled to 256 x 256 x 64 (1.43 mm pixels,
5.25 mm slices), projected in the "fast" geometry (180 views, astra CPU backend) and
given the noise of 20 % dose. Noise SD: SD of (image - full-dose FBP) over flat soft
tissue (0..100 HU, local SD < 15 HU in the full-dose image). RMSE: against the
full-dose FBP, over the body (> -900 HU).

    python Testing/benchmarks/bench_reconstruction.py
"""
from __future__ import annotations

import sys
import time

import numpy as np
from scipy.ndimage import uniform_filter, zoom

from bench_paths import REPOSITORY as ROOT  # noqa: E402  (first: the repository's packages on sys.path)

from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu, mu_to_hu  # noqa: E402
from LowDoseRobustnessLib.simulation.dose import line_integral_noise, mean_counts  # noqa: E402
from image_quality import rmse_hu, roi_mean_sd  # noqa: E402
from LowDoseRobustnessLib.io.volumes import read_volume  # noqa: E402
from LowDoseRobustnessLib.reconstruction import get_reconstructor  # noqa: E402
from LowDoseRobustnessLib.contract import DEFAULT_INCIDENT_FLUX
from LowDoseRobustnessLib.simulation.simulate import SimulationSettings, make_projector  # noqa: E402
from LowDoseRobustnessLib.volume import Volume  # noqa: E402

EXAMPLE_CT = ROOT.parent / "shared" / "data" / "totalsegmentator-examples" / "example_ct.nii.gz"
SHAPE = (64, 256, 256)
DOSE = 0.2
OPTIONS = [("fbp", {"filter_name": "ram-lak"}), ("fbp", {"filter_name": "hann"}), ("iterative", {}),
           ("cnn", {}), ("nlm", {})]


def benchmark_volume() -> Volume:
    ct = read_volume(EXAMPLE_CT)
    nz, ny, nx = ct.array.shape
    side = max(ny, nx)
    square = np.full((nz, side, side), -1000.0, np.float32)
    square[:, (side - ny) // 2:(side - ny) // 2 + ny, (side - nx) // 2:(side - nx) // 2 + nx] = ct.array
    factors = (SHAPE[0] / nz, SHAPE[1] / side, SHAPE[2] / side)
    resampled = np.clip(zoom(square, factors, order=1), -1024, 3071).astype(np.float32)
    spacing = (ct.spacing[0] / factors[2], ct.spacing[1] / factors[1], ct.spacing[2] / factors[0])
    return Volume(resampled, spacing)


def flat_soft_tissue(reference_hu: np.ndarray) -> np.ndarray:
    mean = uniform_filter(reference_hu, (1, 7, 7))
    local_sd = np.sqrt(np.maximum(uniform_filter(reference_hu ** 2, (1, 7, 7)) - mean ** 2, 0))
    return (mean > 0) & (mean < 100) & (local_sd < 15)


def main() -> int:
    volume = benchmark_volume()
    started = time.perf_counter()
    projector = make_projector(volume, SimulationSettings(geometry="fast"))
    print(f"volume {volume.array.shape} (z, y, x), spacing {tuple(round(s, 2) for s in volume.spacing)} mm; "
          f"projector built in {time.perf_counter() - started:.1f} s")
    full = projector.forward_project(hu_to_mu(volume.array))
    low = full + line_integral_noise(full, DOSE * DEFAULT_INCIDENT_FLUX, np.random.default_rng(0))
    counts = DOSE * mean_counts(full, DEFAULT_INCIDENT_FLUX)
    reference = mu_to_hu(projector.reconstruct_fbp(full))
    tissue, body = flat_soft_tissue(reference), reference > -900
    print(f"d = {DOSE}; flat soft tissue: {tissue.sum()} voxels\n")
    print(f"{'method':24s} {'time (s)':>9s} {'noise SD (HU)':>14s} {'RMSE body (HU)':>15s} {'mean shift (HU)':>16s}")
    for name, options in OPTIONS:
        started = time.perf_counter()
        hu = mu_to_hu(get_reconstructor(name)(low, projector, counts=counts, **options))
        seconds = time.perf_counter() - started
        difference = hu - reference
        label = name + "".join(f" {v}" for v in options.values())
        print(f"{label:24s} {seconds:9.1f} {roi_mean_sd(difference, tissue)[1]:14.1f} "
              f"{rmse_hu(hu[body], reference[body]):15.1f} {roi_mean_sd(difference, tissue)[0]:+16.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
