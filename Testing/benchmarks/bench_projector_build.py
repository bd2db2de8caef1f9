"""Benchmark: building the fan-beam system matrix of the clinical 512 x 512 grid (0.7 mm, 720 views, 1036 columns).

Prints, for the views the astra backend stores (one in eight: 0 to 45 degrees), the time of our
vectorised line-model builder (:mod:`LowDoseRobustnessLib.projection.line_matrix`) and of
astra-toolbox's 2D CPU ``line_fanflat`` projector for the same views, split into ASTRA's C++
matrix construction (``astra.projector.matrix``) and its export to Python (``astra.matrix.get``,
an element-by-element copy), each the minimum of ``--repeat`` runs, with the load average.

    python Testing/benchmarks/bench_projector_build.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import bench_paths  # noqa: F401  (the repository's packages on sys.path)

GRID, PIXEL_MM, VIEWS = (512, 512), 0.7, 720


def main() -> None:
    import astra

    from LowDoseRobustnessLib.projection.geometry import clinical_geometry
    from LowDoseRobustnessLib.projection.line_matrix import fan_beam_rays, ray_pixel_lengths
    from LowDoseRobustnessLib.projection.symmetry import view_symmetry

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1)
    repeat = parser.parse_args().repeat
    geometry = clinical_geometry(n_views=VIEWS).fitted_to((1, *GRID), (PIXEL_MM, PIXEL_MM, 1.0))
    beta = geometry.angles_rad[view_symmetry(VIEWS, square_grid=True).stored_views]
    print(f"load average at start: {os.getloadavg()}, {os.cpu_count()} cores; {beta.size} of {VIEWS} views, "
          f"{geometry.detector_columns} columns, {GRID[0]} x {GRID[1]} grid")
    times = {"ours": [], "astra construction (C++)": [], "astra export (astra.matrix.get)": []}
    for _ in range(repeat):
        start = time.perf_counter()
        ours = ray_pixel_lengths(*fan_beam_rays(geometry.source_isocenter_mm, geometry.source_detector_mm,
                                                geometry.detector_column_mm, geometry.detector_columns, beta),
                                 GRID, (PIXEL_MM, PIXEL_MM))
        times["ours"].append(time.perf_counter() - start)
        half = GRID[0] * PIXEL_MM / 2
        radial, lateral = np.stack([np.cos(beta), np.sin(beta)], 1), np.stack([-np.sin(beta), np.cos(beta)], 1)
        vectors = np.hstack([geometry.source_isocenter_mm * radial,
                             -(geometry.source_detector_mm - geometry.source_isocenter_mm) * radial,
                             geometry.detector_column_mm * lateral])
        projector_id = astra.create_projector("line_fanflat", astra.create_proj_geom(
            "fanflat_vec", geometry.detector_columns, vectors), astra.create_vol_geom(*GRID, -half, half, -half, half))
        start = time.perf_counter()
        matrix_id = astra.projector.matrix(projector_id)
        times["astra construction (C++)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = astra.matrix.get(matrix_id)
        times["astra export (astra.matrix.get)"].append(time.perf_counter() - start)
        astra.matrix.delete(matrix_id)
        astra.projector.delete(projector_id)
    for name, seconds in times.items():
        print(f"  {name}: {min(seconds):.1f} s (min of {', '.join(f'{s:.1f}' for s in seconds)})")
    print(f"  entries: ours {ours.nnz}, astra {theirs.nnz}; "
          f"ASTRA total / ours: {(min(times['astra construction (C++)']) + min(times['astra export (astra.matrix.get)'])) / min(times['ours']):.1f}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
