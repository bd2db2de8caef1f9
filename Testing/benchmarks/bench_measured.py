"""Time and memory of the measured-projection path on a scanner the size of the LDCT Grand Challenge's.

A Siemens-like geometry as the public LDCT readers describe it (736 channels x 64 rows, 1.2858 x
1.0947 mm at the detector, 595 / 1085.6 mm, 2304 readings per rotation, z flying focal spot,
pitch 0.8), 1.6 rotations of constant line integrals (values do not change the cost), held in memory.
Prints, per slice: the rebinning plan (averaged over the block), its application, the thinning (per
reading), the FBP of a block of slices, and the reading of one file (100 written for it), then an
estimate for a scan of ``--length`` mm. Run: ``python Testing/benchmarks/bench_measured.py [--matrix 512 --fov-mm 380]``.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

import bench_paths  # noqa: E402,F401  (first: the repository's packages on sys.path)
os.environ.setdefault("LOWDOSE_MATRIX_CACHE", "off")

from ctpd_phantom import HelicalScanner, PhantomScan, write_ctpd  # noqa: E402
from ctpd_scans import in_memory_scan  # noqa: E402

from LowDoseRobustnessLib.io.ctpd_reader import read_projection_folder  # noqa: E402
from LowDoseRobustnessLib.projection import get_projector  # noqa: E402
from LowDoseRobustnessLib.projection.rebinning import FanRebinner  # noqa: E402
from LowDoseRobustnessLib.simulation.measured import ReconstructionGrid, plan_reconstruction  # noqa: E402
from LowDoseRobustnessLib.simulation.simulate import thin_measured_projections  # noqa: E402

GRAND_CHALLENGE_LIKE = HelicalScanner(rows=64, channels=736, channel_mm=1.2858, row_mm=1.0947,
                                      source_isocenter_mm=595.0, source_detector_mm=1085.6,
                                      central_channel=369.625, central_row=32.5, views_per_turn=2304, turns=1.6,
                                      pitch=0.8, flying_focal_spot="FFSZ", angle_shift_rad=0.0, z_shift_mm=0.3,
                                      radius_shift_mm=0.0)


CPU_SECONDS = []
"""Process CPU time of each timed call, beside its wall time (the machine may be shared)."""


def seconds(function, *args, repeat: int = 1):
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        result = function(*args)
    CPU_SECONDS.append((time.process_time() - cpu) / repeat)
    return (time.perf_counter() - start) / repeat, result


def read_files(scanner: HelicalScanner, statistics: np.ndarray, count: int = 100) -> float:
    """Seconds to read one DICOM-CT-PD file of this detector: headers of ``count`` files, then their pixels."""
    import tempfile
    from dataclasses import replace

    small = replace(scanner, turns=count / scanner.views_per_turn)
    phantom = PhantomScan(small, np.empty(0, np.float32), statistics[:small.n_views], small.positions())
    with tempfile.TemporaryDirectory() as folder:
        write_ctpd(Path(folder) / "scan", phantom, np.full((small.n_views, small.rows, small.channels), 2.0,
                                                           np.float32))
        start, cpu = time.perf_counter(), time.process_time()
        scan = read_projection_folder(Path(folder) / "scan")
        scan.line_integrals(0, scan.n_views)
        CPU_SECONDS.append((time.process_time() - cpu) / small.n_views)
        return (time.perf_counter() - start) / small.n_views


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--matrix", type=int, default=256)
    parser.add_argument("--fov-mm", type=float, default=380.0)
    parser.add_argument("--slices", type=int, default=4, help="slices in the reconstructed block")
    parser.add_argument("--length", type=float, default=300.0, help="scan length (mm) of the estimate")
    arguments = parser.parse_args()

    scanner = GRAND_CHALLENGE_LIKE
    statistics = scanner.photon_statistics(2.0e5)
    phantom = PhantomScan(scanner, np.empty(0, np.float32), statistics, scanner.positions())
    scan = in_memory_scan(phantom)
    grid = ReconstructionGrid(matrix=arguments.matrix, fov_mm=arguments.fov_mm)
    plan = plan_reconstruction(scan, grid)
    rebinner = FanRebinner(plan.geometry, plan.target)
    heights = plan.slices_mm[len(plan.slices_mm) // 2: len(plan.slices_mm) // 2 + arguments.slices]
    first, stop = rebinner.view_range(heights)
    views = np.full((stop - first, scanner.rows, scanner.channels), 2.0, np.float32)
    t = plan.target
    print(f"{scanner.n_views} readings of {scanner.rows} x {scanner.channels}; fan sinograms {t.n_views} views x "
          f"{t.detector_columns} columns; image {arguments.matrix}^2 at {plan.pixel_mm:.2f} mm, slices "
          f"{plan.slice_mm:.2f} mm; a block of {len(heights)} slices needs {stop - first} readings")
    plan_s, _ = seconds(lambda: [rebinner.plan(float(z)).shape for z in heights])  # one plan alive at a time
    plan_s /= len(heights)  # the rays of a window are shared by neighbouring slices: the first slice pays most
    slice_plan = rebinner.plan(float(heights[0]))
    apply_s, _ = seconds(slice_plan.apply, views[slice_plan.first - first:slice_plan.stop - first], repeat=3)
    thin_s, _ = seconds(lambda: [thin_measured_projections(views[k], statistics[first + k][None], 0.25, seed=k)
                                 for k in range(50)])
    thin_s /= 50
    sinograms = np.stack([slice_plan.apply(views[slice_plan.first - first:slice_plan.stop - first])] * len(heights), 1)
    shape = (len(heights), arguments.matrix, arguments.matrix)
    build_s, projector = seconds(get_projector, "astra", t, shape, (plan.pixel_mm, plan.pixel_mm, plan.slice_mm))
    fbp_s, _ = seconds(projector.reconstruct_fbp, sinograms)
    per_slice_fbp = fbp_s / len(heights)
    readings_per_mm = scanner.views_per_turn / (scanner.pitch * scanner.collimation_mm)
    slices = arguments.length / plan.slice_mm
    per_dose = slices * (plan_s + apply_s + per_slice_fbp) + arguments.length * readings_per_mm * thin_s
    plan_cpu, apply_cpu, thin_cpu, build_cpu, fbp_cpu = CPU_SECONDS
    read_s = read_files(scanner, statistics)
    per_dose += arguments.length * readings_per_mm * read_s
    cpu_per_dose = (slices * (plan_cpu / len(heights) + apply_cpu + fbp_cpu / len(heights))
                    + arguments.length * readings_per_mm * (thin_cpu / 50 + CPU_SECONDS[-1]))
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    print(f"per slice: plan {plan_s:.2f} s, apply {apply_s:.3f} s, FBP {per_slice_fbp:.3f} s; thinning "
          f"{1000 * thin_s:.1f} ms per reading; projector build {build_s:.1f} s (once per geometry)")
    print(f"  (process CPU time: plan {plan_cpu / len(heights):.2f} s, apply {apply_cpu:.3f} s, "
          f"FBP {fbp_cpu / len(heights):.3f} s, thinning {1000 * thin_cpu / 50:.1f} ms, build {build_cpu:.1f} s)")
    print(f"reading a file: {1000 * read_s:.1f} ms (header and pixels; CPU {1000 * CPU_SECONDS[-1]:.1f} ms)")
    print(f"estimate for {arguments.length:.0f} mm ({slices:.0f} slices): {per_dose / 60:.1f} min per dose level "
          f"(wall time here), {cpu_per_dose / 60:.1f} min CPU; peak memory {peak_gib:.1f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
