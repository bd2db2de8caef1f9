"""Benchmark: what the reconstructed-CT mode's noise accounting costs, step by step.

The body phantom (Testing/support/phantoms.py) at 256 x 256 x 64 (1.5 mm, clinical geometry, 720
views), simulated at 20 % dose plus the 100 % reference, once as a noise-free input and once as a
full-dose scan of this chain (a direct simulation at I0), whose kept noise is measured and accounted
for. Prints the seconds of each progress step and the total; ``--large`` uses 512 x 512 x 300 at
0.75 mm (several GiB of memory). The projector's system matrix is built (or loaded) before timing.

    python Testing/benchmarks/bench_noise_accounting.py [--large]
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings

import bench_paths  # noqa: E402,F401  (first: the repository's packages on sys.path)

import numpy as np  # noqa: E402

from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu, mu_to_hu  # noqa: E402
from LowDoseRobustnessLib.simulation.dose import line_integrals_from_counts, poisson_counts  # noqa: E402
from LowDoseRobustnessLib.simulation.simulate import (SimulationSettings, make_projector,  # noqa: E402
                                                      simulate_dose_series)
from phantoms import body_ellipse  # noqa: E402


def timed_series(volume, settings, projector) -> tuple[float, dict]:
    steps, last = {}, [time.perf_counter()]

    def lap(_, message):
        now = time.perf_counter()
        steps[message] = now - last[0]
        last[0] = now

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        simulate_dose_series(volume, [0.2], settings, seed=0, projector=projector, progress=lap)
    return time.perf_counter() - start, steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--large", action="store_true", help="512 x 512 x 300 at 0.75 mm instead of 256 x 256 x 64")
    arguments = parser.parse_args()
    size, slices, pixel = (512, 300, 0.75) if arguments.large else (256, 64, 1.5)
    phantom, _ = body_ellipse(slices, size=size, pixel_mm=pixel)
    settings = SimulationSettings(geometry="clinical", backend="astra")
    started = time.perf_counter()
    projector = make_projector(phantom, settings)
    print(f"{size} x {size} x {slices}, {pixel} mm, {projector.geometry.n_views} views: projector ready in "
          f"{time.perf_counter() - started:.1f} s")
    line_integrals = projector.forward_project(hu_to_mu(phantom.array))
    counts = poisson_counts(line_integrals, settings.incident_flux, np.random.default_rng(1))
    scan = phantom.with_array(mu_to_hu(projector.reconstruct_fbp(line_integrals_from_counts(counts,
                                                                                           settings.incident_flux))))
    for name, volume in (("noise-free input", phantom), ("full-dose scan input", scan)):
        total, steps = timed_series(volume, settings, projector)
        print(f"\n{name}: {total:.1f} s for the 20 % dose and the 100 % reference")
        for message, seconds in steps.items():
            print(f"  {seconds:6.1f} s  {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
