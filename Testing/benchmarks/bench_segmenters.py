"""CPU time of each offline-runnable segmenter on the full example CT (112 x 101 x 122 voxels, 3 mm).

    python Testing/benchmarks/bench_segmenters.py [CT.nii.gz]

TotalSegmentator runs as its own process with the tiny nnU-Net standing in for its
3 mm weights, so its time is mostly start-up; its CPU time counts the child process.
Model loading is timed apart from segmentation.
"""
from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import bench_paths  # noqa: E402,F401  (first: the repository's packages on sys.path)
from LowDoseRobustnessLib.io.volumes import read_volume  # noqa: E402
from LowDoseRobustnessLib.segmenters import get_segmenter  # noqa: E402
from segmenter_fixtures import EXAMPLES, TINY_MONAI_UNET, TINY_NNUNET, offline_totalsegmentator  # noqa: E402

SPECS = ["builtin", f"nnunet:{TINY_NNUNET}", "totalsegmentator:total_fast", f"monai:{TINY_MONAI_UNET}"]


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (user + system)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(action):
    cpu, wall = cpu_seconds(), time.perf_counter()
    result = action()
    return result, cpu_seconds() - cpu, time.perf_counter() - wall


def main() -> None:
    ct = read_volume(sys.argv[1] if len(sys.argv) > 1 else EXAMPLES / "example_ct.nii.gz")
    print(f"CT {ct.array.shape} voxels (z, y, x), {ct.spacing} mm; {os.cpu_count()} CPU cores")
    print(f"{'segmenter':<30} {'load CPU s':>10} {'segment CPU s':>14} {'segment wall s':>15}  labels found")
    with tempfile.TemporaryDirectory(prefix="bench_totalseg_") as weights:
        os.environ.update(offline_totalsegmentator(Path(weights)))
        for spec in SPECS:
            segmenter, load_cpu, _ = timed(lambda: get_segmenter(spec))
            segmentation, cpu, wall = timed(lambda: segmenter.segment(ct))
            found = len(set(segmentation.label_map.array.ravel().tolist()) - {0})
            kind, _, argument = spec.partition(":")
            print(f"{kind + (':' + Path(argument).name if argument else ''):<30} {load_cpu:>10.1f} {cpu:>14.1f} {wall:>15.1f}  {found}", flush=True)


if __name__ == "__main__":
    main()
