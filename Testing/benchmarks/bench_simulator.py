"""Benchmark: simulate + FBP with our CPU backend vs the same work done by mbirjax directly.

For each case (256x256x64 at 360 views, 512x512x300 at 720 views; water phantom, fan beam
per slice, clinical SID/SDD) it prints: our time (projector build, forward projection, noise,
FBP), mbirjax's forward projection + FDK on the same problem, their ratio, and peak memory.
Each measurement runs in its own process so peak memory (ru_maxrss) is its own.

    python Testing/benchmarks/bench_simulator.py              # small case, ours and mbirjax
    python Testing/benchmarks/bench_simulator.py --large      # adds 512x512x300 (mbirjax: ~15-25 min)
    python Testing/benchmarks/bench_simulator.py --large --no-reference-large   # ours only for the large case
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

CASES = {"small": dict(shape=(64, 256, 256), spacing=1.4, views=360),
         "large": dict(shape=(300, 512, 512), spacing=0.7, views=720)}


def phantom(case):
    from phantoms import water_cylinder

    shape, spacing = case["shape"], case["spacing"]
    radius = 0.42 * shape[1] * spacing
    volume, _ = water_cylinder(shape, spacing, radius_mm=radius, insert_radius_mm=radius / 6)
    return volume


def run_ours(case) -> dict:
    from LowDoseRobustnessLib.simulation.simulate import SimulationSettings, make_projector, simulate_dose_series
    from LowDoseRobustnessLib.projection.geometry import clinical_geometry

    volume = phantom(case)
    settings = SimulationSettings(geometry=clinical_geometry(n_views=case["views"]), backend="astra")
    timings, last = {}, [time.perf_counter()]

    def lap(fraction, message):
        now = time.perf_counter()
        timings[message] = now - last[0]
        last[0] = now

    start = time.perf_counter()
    projector = make_projector(volume, settings)
    build = time.perf_counter() - start
    last[0] = time.perf_counter()
    simulate_dose_series(volume, [0.2], settings, seed=0, projector=projector, progress=lap)
    total = time.perf_counter() - start
    return dict(seconds=total, build=build, steps=timings, columns=projector.geometry.detector_columns)


def run_mbirjax(case) -> dict:
    import mbirjax
    from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu
    from LowDoseRobustnessLib.projection.geometry import clinical_geometry

    volume = phantom(case)
    nz, ny, nx = volume.array.shape
    geometry = clinical_geometry(n_views=case["views"]).fitted_to(volume.array.shape, volume.spacing)
    start = time.perf_counter()
    model = mbirjax.ConeBeamModel((geometry.n_views, nz, geometry.detector_columns), geometry.angles_rad,
                                  source_detector_dist=geometry.source_detector_mm,
                                  source_iso_dist=geometry.source_isocenter_mm)
    model.set_params(delta_det_channel=geometry.detector_column_mm, delta_det_row=volume.spacing[2] * geometry.magnification,
                     delta_voxel=volume.spacing[0], recon_shape=(ny, nx, nz))
    sinogram = model.forward_project(hu_to_mu(volume.array).transpose(1, 2, 0))
    np.asarray(model.direct_recon(sinogram))
    return dict(seconds=time.perf_counter() - start)


def measure(which: str, case_name: str) -> dict:
    """Run one measurement in a fresh process; returns its timings and peak memory (GiB)."""
    output = subprocess.run([sys.executable, __file__, "--child", which, case_name], capture_output=True, text=True)
    if output.returncode != 0:
        return dict(error=output.stderr.strip().splitlines()[-1] if output.stderr.strip() else "failed")
    return json.loads(output.stdout.strip().splitlines()[-1])


def child(which: str, case_name: str) -> None:
    result = (run_ours if which == "ours" else run_mbirjax)(CASES[case_name])
    result["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="also run 512x512x300 at 720 views")
    parser.add_argument("--no-reference-large", action="store_true", help="skip mbirjax on the large case")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        return child(*arguments.child)
    cases = ["small", "large"] if arguments.large else ["small"]
    for name in cases:
        case = CASES[name]
        size = "x".join(str(n) for n in case["shape"][::-1])
        ours = measure("ours", name)
        print(f"{size} at {case['views']} views, fan beam per slice, dose 20 % + 100 % reference:")
        if "error" in ours:
            print(f"  ours failed: {ours['error']}")
            continue
        print(f"  ours (astra system matrix, CPU): {ours['seconds']:.1f} s total, peak {ours['peak_gib']:.1f} GiB,"
              f" {ours['columns']} detector columns")
        print(f"    projector build {ours['build']:.1f} s; " + "; ".join(f"{k}: {v:.1f} s" for k, v in ours["steps"].items()))
        if name == "large" and arguments.no_reference_large:
            print("  mbirjax: skipped (--no-reference-large)")
            continue
        reference = measure("mbirjax", name)
        if "error" in reference:
            print(f"  mbirjax failed: {reference['error']}")
            continue
        print(f"  mbirjax forward projection + FDK (one reconstruction): {reference['seconds']:.1f} s,"
              f" peak {reference['peak_gib']:.1f} GiB")
        print(f"  ratio mbirjax / ours: {reference['seconds'] / ours['seconds']:.2f}")


if __name__ == "__main__":
    main()
