"""Time :func:`compare_label_maps` on a 117-label 512x512x300 map against MONAI and surface-distance.

The reference map is TotalSegmentator's example_seg (42 organs, 3 mm) upsampled by
nearest neighbour to 512x512x300 at 0.8 x 0.8 x 1.0 mm, completed to 117 labels with
ellipsoids in the background. The test map shifts the reference by one voxel (x) inside
a smooth random half of the volume and replaces one organ (label 7) by a distant blob: boundary
changes like those between low- and full-dose predictions.

Ours runs on all labels in one pass. MONAI (``compute_hausdorff_distance(percentile=95)``
per label on the full volume) and surface-distance (``compute_surface_distances`` +
``compute_robust_hausdorff``) run on a few labels; their per-label time is
extrapolated to 117 labels.

Run: python Testing/benchmarks/bench_metrics.py [--labels-timed 4] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np

import bench_paths  # noqa: E402,F401  (first: the repository's packages on sys.path)

from LowDoseRobustnessLib.io.volumes import read_volume  # noqa: E402
from LowDoseRobustnessLib.evaluation.metrics import compare_label_maps  # noqa: E402
from LowDoseRobustnessLib.volume import Volume  # noqa: E402

EXAMPLE_SEG = Path(__file__).resolve().parents[3] / "shared/data/totalsegmentator-examples/example_seg.nii.gz"
SHAPE = (300, 512, 512)
SPACING_MM = (0.8, 0.8, 1.0)
LABEL_COUNT = 117


def reference_map(rng: np.random.Generator) -> np.ndarray:
    """Upsampled real label map plus ellipsoids up to ``LABEL_COUNT`` labels."""
    small = read_volume(EXAMPLE_SEG).array.astype(np.uint8)
    rows = [np.arange(n) * m // n for n, m in zip(SHAPE, small.shape)]
    labels = small[np.ix_(*rows)]
    free = [label for label in range(1, LABEL_COUNT + 1) if label not in set(np.unique(labels))]
    for label in free:
        placed = False
        while not placed:  # ellipsoids go into background only; try elsewhere when none is free
            radii = rng.uniform(4, 30, size=3)
            centre = [rng.uniform(r, n - r) for r, n in zip(radii, SHAPE)]
            box = tuple(slice(int(c - r), int(c + r) + 1) for c, r in zip(centre, radii))
            inside = sum(((g - c) / r) ** 2 for g, c, r in zip(np.ogrid[box], centre, radii)) <= 1.0
            region = labels[box]
            free_inside = inside & (region == 0)
            region[free_inside] = label
            placed = free_inside.sum() > 100
    return labels


def perturbed(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One-voxel shift in a smooth random half of the volume; label 7 replaced by a distant blob."""
    coarse = rng.random((8, 16, 16)) < 0.5
    rows = [np.arange(n) * m // n for n, m in zip(SHAPE, coarse.shape)]
    test = np.where(coarse[np.ix_(*rows)], np.roll(labels, 1, axis=2), labels)
    test[test == 7] = 0
    test[150:170, 250:270, 250:270] = 7
    return test


def peak_memory_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def monai_hd95(reference: Volume, test: Volume, labels) -> tuple[float, list[float]]:
    """Seconds per label and HD95 (mm) of each label with MONAI on the full volume."""
    import torch
    from monai.metrics import compute_hausdorff_distance

    spacing = reference.spacing[::-1]
    start = time.perf_counter()
    values = [float(compute_hausdorff_distance(torch.from_numpy(test.array == label)[None, None],
                                               torch.from_numpy(reference.array == label)[None, None],
                                               percentile=95, spacing=spacing)) for label in labels]
    return (time.perf_counter() - start) / len(labels), values


def surface_distance_hd95(reference: Volume, test: Volume, labels) -> tuple[float, list[float]]:
    """Seconds per label and HD95 (mm) of each label with DeepMind surface-distance."""
    import surface_distance

    spacing = reference.spacing[::-1]
    start = time.perf_counter()
    values = [surface_distance.compute_robust_hausdorff(
        surface_distance.compute_surface_distances(reference.array == label, test.array == label, spacing), 95)
        for label in labels]
    return (time.perf_counter() - start) / len(labels), values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels-timed", type=int, default=4, help="labels timed with MONAI and surface-distance")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of ours after the first")
    arguments = parser.parse_args()
    rng = np.random.default_rng(0)
    reference_labels = reference_map(rng)
    reference = Volume(reference_labels, SPACING_MM)
    test = reference.with_array(perturbed(reference_labels, rng))
    print(f"label map {SHAPE[::-1]} voxels (x, y, z) at {SPACING_MM} mm, "
          f"{len(np.unique(reference_labels)) - 1} labels; memory after building: {peak_memory_gib():.2f} GiB")

    print(f"load average of the machine (1, 5, 15 min): {os.getloadavg()}, {os.cpu_count()} cores")
    seconds = []
    for _ in range(1 + arguments.repeats):
        start = time.perf_counter()
        table = compare_label_maps(reference, test)
        seconds.append(time.perf_counter() - start)
    ours_s = float(np.median(seconds[1:])) if arguments.repeats else seconds[0]
    print(f"ours: {len(table)} labels (Dice, HD95, surface Dice, volumes) in one pass: first call {seconds[0]:.2f} s, "
          f"then {', '.join(f'{s:.2f}' for s in seconds[1:])} s (median {ours_s:.2f} s); "
          f"peak memory {peak_memory_gib():.2f} GiB")

    timed = table.sort_values("volume_ref_ml")["label"].to_numpy()
    timed = timed[np.linspace(0, len(timed) - 1, arguments.labels_timed).astype(int)]
    ours_hd95 = table.set_index("label").loc[timed, "hd95_mm"].to_numpy()
    for tool, measure in (("MONAI compute_hausdorff_distance", monai_hd95),
                          ("surface-distance", surface_distance_hd95)):
        per_label_s, values = measure(reference, test, timed)
        estimate_s = per_label_s * len(table)
        print(f"{tool}: {per_label_s:.2f} s per label (timed on labels {timed.tolist()}), "
              f"extrapolated x {len(table)} labels = {estimate_s:.1f} s; ours is {estimate_s / ours_s:.0f}x faster; "
              f"largest HD95 difference to ours on these labels {np.max(np.abs(ours_hd95 - values)):.3g} mm")
    print(f"peak memory of the whole run {peak_memory_gib():.2f} GiB")


if __name__ == "__main__":
    main()
