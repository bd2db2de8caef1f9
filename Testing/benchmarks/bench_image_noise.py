"""Benchmark: a noise realization drawn in the image domain vs simulated in the projection domain, same case.

Cases (clinical geometry, doses 25 % and 50 % plus the 100 % reference, I0 = 1e5): the water ellipse
350 x 250 mm with two bone rods on 256 x 256 x 64 voxels of 1.5 mm, and the real example CT (example_ct.nii.gz,
122 x 101 x 112 voxels of 3 mm). For each it times (wall and CPU seconds, median of --repeats):

* projection domain, one realization: ``simulate_dose_series(volume, doses, settings, seed)`` with the
  projector built beforehand, i.e. what ``lowdose study --realizations`` pays per realization;
* one FBP of the case's line integrals: the floor of any projection-domain realization of one volume;
* training: ``train_image_noise_model`` (K = 4 projection-domain realizations and the fit), once per case;
* image domain, one realization: ``model.realization`` for every dose of the series;

and prints the speed-up per realization (dose series against dose series), per volume (one draw against
one FBP) and the number of realizations from which the image mode, training included, is faster.

    python Testing/benchmarks/bench_image_noise.py [--case ellipse|real|all] [--repeats 3]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import bench_paths  # noqa: E402,F401  (first: the repository's packages on sys.path)
DOSES = (0.25, 0.5)


def timed(function, repeats: int) -> tuple[float, float, object]:
    """(median wall s, median CPU s, last result) of ``function()``."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return float(np.median(walls)), float(np.median(cpus)), result


def case_volume(name: str):
    from LowDoseRobustnessLib.io.volumes import read_volume
    from phantoms import body_ellipse
    from shared_data import EXAMPLES

    if name == "ellipse":
        return ("water ellipse 350 x 250 mm with two bone rods, 256 x 256 x 64 at 1.5 mm",
                body_ellipse(slices=64, size=256, pixel_mm=1.5, bones=True, slice_mm=1.5)[0])
    return "real example CT, 122 x 101 x 112 at 3 mm", read_volume(EXAMPLES / "example_ct.nii.gz")


def run_case(name: str, repeats: int) -> None:
    from LowDoseRobustnessLib.simulation.attenuation import hu_to_mu
    from LowDoseRobustnessLib.simulation.image_noise import DEFAULT_TRAINING_REALIZATIONS, train_image_noise_model
    from LowDoseRobustnessLib.simulation.simulate import SimulationSettings, make_projector, simulate_dose_series

    title, volume = case_volume(name)
    settings = SimulationSettings(geometry="clinical", noise="image")
    build, _, projector = timed(lambda: make_projector(volume, settings), 1)
    line_integrals = projector.forward_project(hu_to_mu(volume.array))
    fbp = timed(lambda: projector.reconstruct_fbp(line_integrals), repeats)
    seeds = iter(range(100, 100 + repeats))
    projection = timed(lambda: simulate_dose_series(volume, DOSES, settings, next(seeds), projector), repeats)
    training = timed(lambda: train_image_noise_model(volume, DOSES, settings, 0, projector=projector), 1)
    model = training[2]
    series_doses = sorted(set(DOSES) | {1.0})
    draws = iter(range(repeats))

    def image_series():
        seed = next(draws)
        return {dose: model.realization(dose, seed) for dose in series_doses}

    image = timed(image_series, repeats)
    one_draw = timed(lambda: model.noise(DOSES[0], 999), repeats)
    print(f"\n{title}; clinical geometry, doses {', '.join(f'{d:.0%}' for d in DOSES)} + 100 % reference")
    print(f"  projector build (not counted): {build:.1f} s; basis filters per dose: "
          f"{'/'.join(str(filters.shape[0]) for filters in model.filters)}")
    print("  | step | wall s | CPU s |\n  |---|---|---|")
    rows = {"projection domain, one realization (dose series)": projection, "one FBP of the volume": fbp,
            f"training (K = {DEFAULT_TRAINING_REALIZATIONS} projection-domain realizations + fit)": training,
            "image domain, one realization (dose series)": image, "image domain, one volume (one dose)": one_draw}
    for label, (wall, cpu, _) in rows.items():
        print(f"  | {label} | {wall:.2f} | {cpu:.2f} |")
    speed_up = projection[0] / image[0]
    print(f"  speed-up per realization: {speed_up:.0f}x wall ({projection[1] / image[1]:.0f}x CPU); "
          f"per volume against one FBP: {fbp[0] / one_draw[0]:.0f}x wall ({fbp[1] / one_draw[1]:.0f}x CPU)")
    break_even = training[0] / (projection[0] - image[0])
    print(f"  the image mode, training included, is faster from {int(np.ceil(break_even))} realizations on; "
          f"100 realizations: {training[0] + 100 * image[0]:.0f} s instead of {100 * projection[0]:.0f} s (wall)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=("ellipse", "real", "all"), default="all")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions of each step (median)")
    arguments = parser.parse_args()
    for name in (("ellipse", "real") if arguments.case == "all" else (arguments.case,)):
        run_case(name, arguments.repeats)


if __name__ == "__main__":
    main()
