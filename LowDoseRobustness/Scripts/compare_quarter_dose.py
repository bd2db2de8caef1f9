"""Compare our simulated quarter dose with the quarter-dose projections of the same scan (LDCT Grand Challenge).

The TCIA "LDCT-and-Projection-data" collection gives, for each patient, full-dose and quarter-dose
projections in DICOM-CT-PD. According to its description (Moen et al. 2021, Med Phys 48:902) the
quarter-dose projections were made from the full-dose ones with Mayo Clinic's validated
projection-domain noise insertion (Yu et al. 2012), so both share the full-dose noise; this
script therefore compares our thinning (Zabic eq. 3 or binomial) with that reference:

1. reconstruct the full-dose projections, their 25 % thinning (this project) and the provided
   quarter-dose projections with the same rebinning and reconstruction;
2. noise SD in ROIs: of each image (the paper's measure, sec. 3.1) and of the noise the lower dose
   adds (low minus full dose; anatomy cancels, so any ROI inside the body is usable);
3. the noise power spectrum (NPS) of the added noise, radially averaged, and its mean frequency.

Usage (the data are not in this repository; ~10 GB per patient, download from TCIA):

    python LowDoseRobustness/Scripts/compare_quarter_dose.py L067/full_DICOM-CT-PD L067/quarter_DICOM-CT-PD \\
        --z-range 0:40 --matrix 512 --fov-mm 380 [--roi 20:30,240:280,200:240 ...] [-o comparison/]

ROIs are z0:z1,y0:y1,x0:x1 in voxel indices of the output grid; without ``--roi`` a grid of square ROIs
inside the body (full dose above -300 HU, away from its edge; ``--roi-size``) is used. ``-o`` writes the table
(``comparison.csv``) and the NPS figure (``nps.png``). Prints ratios simulated / provided: 1 is perfect.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROI_SIZE = 32
"""Default side (pixels) of the automatic square ROIs and of the NPS patches."""


def parse_roi(text: str) -> tuple[slice, slice, slice]:
    parts = [tuple(int(v) for v in part.split(":")) for part in text.split(",")]
    if len(parts) != 3 or any(len(p) != 2 for p in parts):
        raise argparse.ArgumentTypeError(f"ROI must look like z0:z1,y0:y1,x0:x1, got {text!r}")
    return tuple(slice(a, b) for a, b in parts)


def automatic_rois(full_hu: np.ndarray, size: int = ROI_SIZE) -> list[tuple[slice, slice, slice]]:
    """Square ROIs (all slices) whose every pixel lies inside the body (> -300 HU) with a margin of ``size / 2``."""
    from scipy.ndimage import binary_erosion

    body = np.all(full_hu > -300, axis=0)
    body = binary_erosion(body, iterations=size // 2)
    rois = []
    ny, nx = body.shape
    for y in range(0, ny - size + 1, size):
        for x in range(0, nx - size + 1, size):
            if body[y:y + size, x:x + size].all():
                rois.append((slice(None), slice(y, y + size), slice(x, x + size)))
    return rois


def noise_power_spectrum(noise: np.ndarray, rois, pixel_mm: float, bins: int = 24):
    """Radially averaged 2D NPS (HU^2 mm^2) of ``noise [z, y, x]`` over the square ROIs: (frequency /mm, NPS)."""
    spectra = []
    for roi in rois:
        patches = noise[roi]
        patches = patches - patches.mean(axis=(1, 2), keepdims=True)
        n = patches.shape[1]
        spectra.append((np.abs(np.fft.fft2(patches)) ** 2).mean(0) * pixel_mm ** 2 / (n * n))
    if not spectra:
        raise SystemExit("no ROI inside the body for the NPS; pass --roi")
    size = min(s.shape[0] for s in spectra)
    spectrum = np.mean([s for s in spectra if s.shape[0] == size], axis=0)
    frequency = np.hypot(*np.meshgrid(np.fft.fftfreq(size, pixel_mm), np.fft.fftfreq(size, pixel_mm)))
    edges = np.linspace(0, frequency.max(), bins + 1)
    which = np.clip(np.digitize(frequency.ravel(), edges) - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    radial = np.bincount(which, spectrum.ravel(), minlength=bins) / np.maximum(counts, 1)
    return 0.5 * (edges[1:] + edges[:-1]), radial


def mean_frequency(frequency: np.ndarray, nps: np.ndarray) -> float:
    """NPS-weighted mean spatial frequency (1/mm): the noise texture's coarseness."""
    return float((frequency * nps).sum() / nps.sum())


def reconstruct(folder: str, dose: float, arguments):
    from LowDoseRobustnessLib.simulation.measured import ReconstructionGrid, simulate_from_projections
    from LowDoseRobustnessLib.simulation.simulate import SimulationSettings

    grid = ReconstructionGrid(matrix=arguments.matrix, fov_mm=arguments.fov_mm, slice_mm=arguments.slice_mm,
                              z_range_mm=arguments.z_range, fan_views=arguments.fan_views)
    settings = SimulationSettings(backend=arguments.backend, reconstruction_options={"filter_name": arguments.filter})
    return simulate_from_projections(folder, [dose], settings, arguments.seed, grid, arguments.thinning)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("full_dose", help="full-dose DICOM-CT-PD folder")
    parser.add_argument("low_dose", help="the same scan's lower-dose DICOM-CT-PD folder")
    parser.add_argument("--dose", type=float, default=0.25, help="dose fraction of the low-dose folder (0.25)")
    parser.add_argument("--roi", type=parse_roi, action="append", help="z0:z1,y0:y1,x0:x1 (voxels); repeat")
    parser.add_argument("--roi-size", type=int, default=ROI_SIZE, help="side of the automatic ROIs (pixels)")
    parser.add_argument("--thinning", default="zabic", choices=("zabic", "binomial"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--fov-mm", type=float)
    parser.add_argument("--slice-mm", type=float)
    parser.add_argument("--z-range", type=lambda t: tuple(float(v) for v in t.split(":")), metavar="Z0:Z1")
    parser.add_argument("--fan-views", type=int)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--filter", default="ram-lak")
    parser.add_argument("-o", "--output", help="folder for comparison.csv and nps.png")
    arguments = parser.parse_args(argv)

    ours = reconstruct(arguments.full_dose, arguments.dose, arguments)
    full, simulated = ours[1.0], ours[arguments.dose]
    provided = reconstruct(arguments.low_dose, 1.0, arguments)[1.0]
    if not provided.same_grid(full):
        raise SystemExit("the two folders give different grids; pass the same --z-range to both scans' overlap")
    rois = arguments.roi or automatic_rois(full.array, arguments.roi_size)
    if not rois:
        raise SystemExit("no ROI found inside the body; pass --roi")
    rows = []
    for k, roi in enumerate(rois):
        sd = {name: float(volume.array[roi].std()) for name, volume in
              (("full", full), ("simulated", simulated), ("provided", provided))}
        added = {name: float((volume.array - full.array)[roi].std()) for name, volume in
                 (("simulated", simulated), ("provided", provided))}
        rows.append({"roi": k, "sd_full_hu": sd["full"], "sd_simulated_hu": sd["simulated"],
                     "sd_provided_hu": sd["provided"], "added_sd_simulated_hu": added["simulated"],
                     "added_sd_provided_hu": added["provided"],
                     "sd_ratio": sd["simulated"] / sd["provided"],
                     "added_sd_ratio": added["simulated"] / added["provided"]})
    square = [roi for roi in rois if roi[1].stop - roi[1].start == roi[2].stop - roi[2].start]
    frequency, nps_simulated = noise_power_spectrum(simulated.array - full.array, square, full.spacing[0])
    _, nps_provided = noise_power_spectrum(provided.array - full.array, square, full.spacing[0])
    sd_ratios = np.array([r["sd_ratio"] for r in rows])
    added_ratios = np.array([r["added_sd_ratio"] for r in rows])
    print(f"{len(rows)} ROIs; noise SD simulated / provided: image {np.mean(sd_ratios):.3f} "
          f"(worst {sd_ratios[np.argmax(np.abs(sd_ratios - 1))]:.3f}), added noise {np.mean(added_ratios):.3f} "
          f"(worst {added_ratios[np.argmax(np.abs(added_ratios - 1))]:.3f})")
    print(f"NPS of the added noise: mean frequency simulated {mean_frequency(frequency, nps_simulated):.3f} /mm, "
          f"provided {mean_frequency(frequency, nps_provided):.3f} /mm; integral ratio "
          f"{nps_simulated.sum() / nps_provided.sum():.3f}")
    if arguments.output:
        write_outputs(Path(arguments.output), rows, frequency, nps_simulated, nps_provided)
    return 0


def write_outputs(folder: Path, rows, frequency, nps_simulated, nps_provided) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from LowDoseRobustnessLib.evaluation.results import write_table
    from LowDoseRobustnessLib.io.atomic import atomic_output

    write_table(pd.DataFrame(rows), folder / "comparison.csv", overwrite=True)
    figure, axis = plt.subplots(figsize=(5, 3.5))
    axis.plot(frequency, nps_simulated, label="simulated (this project)")
    axis.plot(frequency, nps_provided, "--", label="provided low-dose projections")
    axis.set_xlabel("spatial frequency (1/mm)")
    axis.set_ylabel("NPS of added noise (HU² mm²)")
    axis.legend()
    figure.tight_layout()
    with atomic_output(folder / "nps.png", overwrite=True) as temporary:
        figure.savefig(temporary, dpi=120, format="png")
    plt.close(figure)
    print(f"wrote {folder / 'comparison.csv'} and {folder / 'nps.png'}")


if __name__ == "__main__":
    sys.exit(main())
