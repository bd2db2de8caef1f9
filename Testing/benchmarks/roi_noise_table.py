"""Noise SD and ROI-mean shift of every reconstruction option at d = 0.2, as a markdown table.

Same scans as the unit tests (Testing/unit/conftest.py): the water phantom with inserts and
every third slice of example_ct_sm (liver and spleen ROIs), "fast" geometry; the real CT
also in the "clinical" geometry. Factor = FBP ram-lak SD / method SD; moved = method ROI
mean - FBP ram-lak ROI mean on the same data; RMSE against the full-dose FBP.

    python Testing/benchmarks/roi_noise_table.py
"""
from __future__ import annotations

import sys

import bench_paths  # noqa: E402,F401  (first: the repository's packages on sys.path)

from phantoms import water_phantom  # noqa: E402
from reconstruction_scans import real_ct_volume, simulate_scan  # noqa: E402

from image_quality import rmse_hu, roi_mean_sd  # noqa: E402
from LowDoseRobustnessLib.reconstruction import get_reconstructor  # noqa: E402

OPTIONS = [("fbp", {}), ("fbp", {"filter_name": "hann"}), ("iterative", {}), ("cnn", {}), ("nlm", {})]


def main() -> int:
    scans = [("phantom, fast", simulate_scan(*water_phantom())),
             ("example CT, fast", simulate_scan(*real_ct_volume())),
             ("example CT, clinical", simulate_scan(*real_ct_volume(), geometry="clinical"))]
    print("| scan | method | ROI: SD HU (factor), mean moved HU | RMSE vs full dose (HU) |\n|---|---|---|---|")
    for scan_name, scan in scans:
        full = {name: roi_mean_sd(scan.reference_hu, roi) for name, roi in scan.rois.items()}
        print(f"| {scan_name} | full-dose FBP | " + "; ".join(f"{n}: {sd:.1f}" for n, (_, sd) in full.items()) + " | 0 |")
        baseline = None
        for method, options in OPTIONS:
            hu = scan.hu(get_reconstructor(method)(scan.low_dose, scan.projector, counts=scan.counts, **options))
            stats = {name: roi_mean_sd(hu, roi) for name, roi in scan.rois.items()}
            baseline = baseline or stats
            cells = "; ".join(f"{n}: {sd:.1f} (x{baseline[n][1] / sd:.1f}), {mean - baseline[n][0]:+.1f}"
                              for n, (mean, sd) in stats.items())
            label = method + "".join(f" {v}" for v in options.values())
            print(f"| {scan_name} | {label} | {cells} | {rmse_hu(hu, scan.reference_hu):.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
