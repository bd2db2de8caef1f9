"""Peak memory per voxel of each command: the figures behind ``contract.PEAK_MEMORY_BYTES_PER_VOXEL``.

Runs every stage's ``lowdose`` command on the bundled 30-slice sample and on the same
volume upsampled 3x in-plane (9x the voxels), in fresh processes, and prints the slope of
the peak resident memory (``wait4``'s ru_maxrss) between the two sizes, in bytes per voxel,
beside the figure the commands use to refuse work that cannot fit. Run it on a quiet machine:

    python Testing/benchmarks/bench_memory.py
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import SimpleITK as sitk

from bench_paths import PATHS  # noqa: E402  (first: the repository's packages on sys.path)
from LowDoseRobustnessLib.contract import PEAK_MEMORY_BYTES_PER_VOXEL, SAMPLE_CT, SAMPLE_LABELS  # noqa: E402

UPSAMPLING = 3


def upsampled(source: Path, target: Path, interpolator) -> Path:
    image = sitk.ReadImage(str(source))
    size = [s * UPSAMPLING for s in image.GetSize()[:2]] + [image.GetSize()[2]]
    spacing = [s / UPSAMPLING for s in image.GetSpacing()[:2]] + [image.GetSpacing()[2]]
    sitk.WriteImage(sitk.Resample(image, size, sitk.Transform(), interpolator, image.GetOrigin(), spacing,
                                  image.GetDirection(), -1000 if interpolator == sitk.sitkLinear else 0,
                                  image.GetPixelID()), str(target))
    return target


def peak_bytes(argv: list[str]) -> int:
    """Peak resident memory of ``lowdose ARGV`` in a fresh process."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(str(path) for path in PATHS)}
    process = subprocess.Popen([sys.executable, "-m", "LowDoseRobustnessLib.cli", *argv], env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"lowdose {' '.join(argv)} failed: {process.stderr.read().decode()[-500:]}")
    return usage.ru_maxrss * 1024


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        sizes = {"small": (SAMPLE_CT, SAMPLE_LABELS),
                 "large": (upsampled(SAMPLE_CT, folder / "ct.nii.gz", sitk.sitkLinear),
                           upsampled(SAMPLE_LABELS, folder / "seg.nii.gz", sitk.sitkNearestNeighbor))}
        voxels = {name: sitk.ReadImage(str(ct)).GetNumberOfPixels() for name, (ct, _) in sizes.items()}

        def stage_argv(stage: str, ct: Path, labels: Path, out: Path) -> list[str]:
            return {"simulation": ["simulate", ct, "--dose", "0.2", "--geometry", "fast", "-o", out / "s.nii.gz"],
                    "simulated_dose": ["simulate", ct, "--dose", "0.2", "--dose", "0.4", "--dose", "0.6",
                                       "--geometry", "fast", "-o", out / "doses"],
                    "image_noise_dose": ["simulate", ct, "--dose", "0.2", "--dose", "0.4", "--dose", "0.6",
                                         "--geometry", "fast", "--noise", "image", "-o", out / "doses"],
                    "segmentation": ["segment", ct, "-o", out / "seg.nii.gz"],
                    "comparison": ["compare", labels, labels, "-o", out / "m.csv", "--disagreement", out / "d.nii.gz"],
                    "synthesis": ["synth", labels, "--count", "1", "--strategy", "constant", "-o", out / "ds"],
                    "statistics": ["synth-stats", ct, labels, "-o", out / "hu.csv"]}[stage]

        peaks = {}
        for stage in PEAK_MEMORY_BYTES_PER_VOXEL:
            for size, (ct, labels) in sizes.items():
                out = folder / f"{stage}-{size}"
                out.mkdir()
                peaks[stage, size] = peak_bytes([str(a) for a in stage_argv(stage, ct, labels, out)])
        print(f"voxels: {voxels['small']:,} and {voxels['large']:,}")
        print(f"{'stage':<16}{'peak small':>12}{'peak large':>12}{'slope B/voxel':>15}{'used':>6}")
        for stage, used in PEAK_MEMORY_BYTES_PER_VOXEL.items():
            small, large = peaks[stage, "small"], peaks[stage, "large"]
            slope = (large - small) / (voxels["large"] - voxels["small"])
            if stage == "simulated_dose":  # two more doses than the one-dose run: per dose
                slope = (large - peaks["simulation", "large"]) / voxels["large"] / 2
            if stage == "image_noise_dose":  # the same doses in the image mode: per dose level its model holds
                slope = (large - peaks["simulated_dose", "large"]) / voxels["large"] / 4
            print(f"{stage:<16}{small / 2**20:>10.0f}Mi{large / 2**20:>10.0f}Mi{slope:>15.1f}{used:>6}")


if __name__ == "__main__":
    main()
