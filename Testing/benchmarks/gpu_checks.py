"""Checks of the CUDA paths against the CPU ones, for a machine with a GPU (never part of CI).

Run where TIGRE is built and torch sees CUDA:

    PYTHONPATH=$TIGRE:$TIGRE/Python python Testing/benchmarks/gpu_checks.py   # TIGRE built in place in $TIGRE

Each check prints one line (``ok`` or ``FAIL`` and its numbers); a failing check does not stop
the others. The reference of every comparison is the CPU path of this package:

* TIGRE (fan beam per slice, body-sized water ellipse with bone rods, ``fast`` geometry):
  its forward projection against the CPU line-model projector (relative L2 difference), its
  adjoint pair (<Ax, y> against <x, A^T y>), noiseless FBP water level and flatness, the FBP of
  the same projection noise (SD and mean frequency), I0 ``auto`` on TIGRE (the 100 % output as
  noisy as the input), the iterative reconstructions (generic PWLS over TIGRE's operators and
  TIGRE's own ASD-POCS, 10 iterations), ``auto`` choosing TIGRE, and the time of forward projection + FBP of 512 x 512 x 64 slices at 720
  views against the CPU projector on the same machine;
* torch on CUDA: the MONAI segmenter's labels on ``cuda`` against ``cpu``.
"""
from __future__ import annotations

import sys
import time
import traceback

import numpy as np

import bench_paths  # noqa: F401  (the repository's packages on sys.path)

RESULTS: list[str] = []


def check(name):
    def wrap(function):
        def run():
            started = time.perf_counter()
            try:
                verdict, numbers = function()
            except Exception:
                traceback.print_exc()
                verdict, numbers = False, "raised (traceback above)"
            line = f"{'ok  ' if verdict else 'FAIL'} {name}: {numbers} ({time.perf_counter() - started:.1f} s)"
            print(line, flush=True)
            RESULTS.append(line)
        return run
    return wrap


def phantom(slices=8):
    from phantoms import body_ellipse

    return body_ellipse(slices=slices, size=256, pixel_mm=1.5, bones=True, slice_mm=3.0)


def projectors(volume, geometry="fast"):
    from LowDoseRobustnessLib.simulation.simulate import SimulationSettings, make_projector

    return {name: make_projector(volume, SimulationSettings(geometry=geometry, backend=name))
            for name in ("tigre", "astra")}


@check("backends")
def backends():
    from LowDoseRobustnessLib.projection import available_backends, resolve_backend_name
    from LowDoseRobustnessLib.projection.geometry import fast_geometry

    available = available_backends()
    chosen = resolve_backend_name("auto", fast_geometry())
    return available["tigre"] is None and chosen == "tigre", f"available {available}; auto -> {chosen}"


@check("tigre forward projection vs CPU line model")
def forward():
    from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu

    volume, _ = phantom()
    mu = hu_to_mu(volume.array)
    p = {name: projector.forward_project(mu) for name, projector in projectors(volume).items()}
    difference = np.linalg.norm(p["tigre"] - p["astra"]) / np.linalg.norm(p["astra"])
    ratio = p["tigre"].sum() / p["astra"].sum()
    return difference < 0.02 and abs(ratio - 1) < 0.005, f"relative L2 difference {difference:.4f}, sum ratio {ratio:.5f}"


@check("tigre adjoint pair")
def adjoint():
    volume, _ = phantom(4)
    projector = projectors(volume)["tigre"]
    rng = np.random.default_rng(1)  # not the calibration's vector (seed 0)
    x = rng.random(volume.array.shape, dtype=np.float32)
    y = rng.random(projector.projection_shape, dtype=np.float32)
    left = float(np.vdot(projector.forward_project(x).astype(np.float64), y))
    right = float(np.vdot(x.astype(np.float64), projector.back_project(y)))
    mismatch = abs(left - right) / abs(left)
    return mismatch < 0.01, (f"<Ax,y> = {left:.6g}, <x,A^T y> = {right:.6g}, relative mismatch {mismatch:.2e} "
                             f"(TIGRE's matched Atb scaled by {projector.adjoint_scale:.5f})")


@check("tigre noiseless FBP: water level and flatness vs CPU (within 2 HU, SD within 1.5 x + 1 HU)")
def noiseless_fbp():
    from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu, mu_to_hu

    volume, regions = phantom()
    interior = regions["interior"] & (volume.array[0] == 0)
    level = {}
    for name, projector in projectors(volume).items():
        hu = mu_to_hu(projector.reconstruct_fbp(projector.forward_project(hu_to_mu(volume.array))))
        level[name] = float(hu[:, interior].mean()), float(hu[:, interior].std())
    (mean, sd), (cpu_mean, cpu_sd) = level["tigre"], level["astra"]
    return (abs(mean - cpu_mean) < 2.0 and sd < 1.5 * cpu_sd + 1.0,
            f"water tigre {mean:+.2f} HU (SD {sd:.2f}), CPU {cpu_mean:+.2f} HU (SD {cpu_sd:.2f}; bone-rod streaks)")


@check("FBP of the same 25 %-dose noise: tigre FDK vs CPU rebinned FBP (SD ratio, mean noise frequency)")
def fbp_noise():
    from image_quality import mean_frequency

    from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu
    from LowDoseRobustnessLib.simulation.dose import line_integral_noise

    volume, regions = phantom(16)
    found = projectors(volume)
    clean = found["astra"].forward_project(hu_to_mu(volume.array))
    noise = line_integral_noise(clean, 2.5e4, np.random.default_rng(2))
    images = {name: projector.reconstruct_fbp(noise) * 1000 / 0.0192 for name, projector in found.items()}
    sd = {name: float(image[:, regions["interior"]].std()) for name, image in images.items()}
    frequency = {name: mean_frequency(image, volume.spacing, regions["interior"]) for name, image in images.items()}
    return True, (f"SD tigre {sd['tigre']:.1f} HU, CPU {sd['astra']:.1f} HU (ratio {sd['tigre'] / sd['astra']:.3f}); "
                  f"mean frequency tigre {frequency['tigre']:.3f}/mm, CPU {frequency['astra']:.3f}/mm")


@check("tigre with I0 auto: 100 % output as noisy as the input, 25 % twice its SD (within 5 %)")
def fitted_flux():
    from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu, mu_to_hu
    from LowDoseRobustnessLib.simulation.dose import line_integrals_from_counts, poisson_counts
    from LowDoseRobustnessLib.simulation.simulate import SimulationSettings, simulate_dose_series

    volume, regions = phantom(16)
    projector = projectors(volume)["tigre"]
    clean = projector.forward_project(hu_to_mu(volume.array))
    noiseless = mu_to_hu(projector.reconstruct_fbp(clean))
    counts = poisson_counts(clean, 2e4, np.random.default_rng(3))
    scan = volume.with_array(mu_to_hu(projector.reconstruct_fbp(line_integrals_from_counts(counts, 2e4))))
    outputs = simulate_dose_series(scan, [0.25], SimulationSettings(geometry="fast", backend="tigre",
                                                                    kernel="ram-lak"), seed=5)
    interior = regions["interior"]
    sd_in = float((scan.array - noiseless)[:, interior].std())
    sd = {d: float((outputs[d].array - noiseless)[:, interior].std()) for d in (1.0, 0.25)}
    ok = abs(sd[1.0] / sd_in - 1) < 0.05 and abs(sd[0.25] / (2 * sd_in) - 1) < 0.05
    return ok, f"input {sd_in:.1f} HU; output 100 % {sd[1.0]:.1f} HU, 25 % {sd[0.25]:.1f} HU"


@check("tigre iterative reconstructions (25 % dose): water level and noise vs FBP")
def iterative():
    from LowDoseRobustnessLib.reconstruction.iterative import reconstruct_iterative
    from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu, mu_to_hu
    from LowDoseRobustnessLib.simulation.dose import line_integral_noise, mean_counts

    volume, regions = phantom(2)
    interior = regions["interior"] & (volume.array[0] == 0)
    projector = projectors(volume)["tigre"]
    clean = projector.forward_project(hu_to_mu(volume.array))
    noisy = clean + line_integral_noise(clean, 2.5e4, np.random.default_rng(1))
    counts = mean_counts(clean, 2.5e4)
    images = {"fbp": projector.reconstruct_fbp(noisy)}
    for algorithm in ("pwls", "asd-pocs"):
        images[algorithm] = reconstruct_iterative(noisy, projector, counts, algorithm=algorithm, iterations=10)
    numbers, ok = [], True
    fbp_sd = float(mu_to_hu(images["fbp"])[:, interior].std())
    for name, mu in images.items():
        hu = mu_to_hu(mu)[:, interior]
        numbers.append(f"{name} {hu.mean():+.1f} HU, SD {hu.std():.1f} HU")
        ok &= abs(float(hu.mean())) < 10.0 and (name == "fbp" or float(hu.std()) < fbp_sd)
    return ok, "; ".join(numbers)


@check("tigre vs CPU time: forward + FBP, 512 x 512 x 64 at 720 views (clinical)")
def timing():
    from phantoms import water_cylinder

    from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu

    volume, _ = water_cylinder((64, 512, 512), 0.7, radius_mm=150.0, insert_radius_mm=25.0)
    mu = hu_to_mu(volume.array)
    seconds = {}
    for name, projector in projectors(volume, "clinical").items():
        projector.reconstruct_fbp(projector.forward_project(mu))  # warm-up: CUDA context, CPU matrices
        started = time.perf_counter()
        projector.reconstruct_fbp(projector.forward_project(mu))
        seconds[name] = time.perf_counter() - started
    return True, (f"tigre {seconds['tigre']:.2f} s, CPU projector {seconds['astra']:.2f} s on this machine, "
                  f"ratio {seconds['astra'] / seconds['tigre']:.1f} x")


@check("MONAI segmenter: cuda labels vs cpu")
def monai_cuda():
    from shared_data import REPOSITORY

    from LowDoseRobustnessLib.segmenters.monai import MonaiSegmenter

    volume, _ = phantom(16)
    config = REPOSITORY / "Testing" / "Data" / "tiny_monai" / "unet.json"
    labels = {device: MonaiSegmenter(config, device=device).segment(volume).label_map.array
              for device in ("cpu", "cuda")}
    agreement = float(np.mean(labels["cpu"] == labels["cuda"]))
    return agreement > 0.999, f"voxels with the same label: {agreement:.5f} ({labels['cpu'].size} voxels)"


def main() -> int:
    import torch

    print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}", flush=True)
    for run in (backends, forward, adjoint, noiseless_fbp, fbp_noise, fitted_flux, timing, iterative, monai_cuda):
        run()
    print("\n".join(["", "summary:"] + RESULTS))
    return 0 if all(line.startswith("ok") for line in RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
