"""The measured-projection path of ``lowdose simulate``: a DICOM-CT-PD folder in, lower-dose volumes out.

``lowdose simulate`` hands over here when its input is a projection folder
(:func:`..io.ctpd_reader.is_projection_folder`); the options of this group apply only then.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from LowDoseRobustnessLib.contract import INCIDENT_FLUX_AUTO, THINNING_METHODS, dose_stem
from LowDoseRobustnessLib.errors import InputError

MEASURED_ONLY = ("thinning", "save_projections", "matrix", "fov_mm", "slice_mm", "z_range", "fan_views")


def parse_z_range(text: str) -> tuple[float, float]:
    """``Z0:Z1`` (mm) -> (Z0, Z1)."""
    try:
        first, last = (float(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"z range must look like Z0:Z1 in mm, e.g. -50:120, got {text!r}")
    return first, last


def add_arguments(parser) -> None:
    group = parser.add_argument_group("measured projections (input is a DICOM-CT-PD folder)")
    group.add_argument("--thinning", choices=THINNING_METHODS,
                       help="dose reduction of the measured counts: Zabic et al. eq. 3 (default) or exact binomial")
    group.add_argument("--save-projections", metavar="DIR",
                       help="also write the thinned projections as DICOM-CT-PD (one dose: into DIR; several: "
                            "DIR/dose_020, ...), headers of the input with the dose fields scaled")
    group.add_argument("--matrix", type=int, help="image pixels per side (default 512)")
    group.add_argument("--fov-mm", type=float, help="image side in mm (default: the scan's data collection diameter)")
    group.add_argument("--slice-mm", type=float,
                       help="slice spacing in mm (default: one detector row at the isocentre)")
    group.add_argument("--z-range", type=parse_z_range, metavar="Z0:Z1",
                       help="first and last slice position in mm, e.g. --z-range=-50:120 "
                            "(default: all the scan covers)")
    group.add_argument("--fan-views", type=int, help="views per rotation of the rebinned sinograms "
                                                     "(default: the scan's, at most 1152)")


def check_volume_input(arguments) -> None:
    """Refuse the measured-projection options for a CT volume input."""
    given = [name for name in MEASURED_ONLY if getattr(arguments, name, None) is not None]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise InputError(f"{flags} applies only to measured projections (a DICOM-CT-PD folder), "
                         f"not to {arguments.input}")


def projection_outputs(arguments, doses: list[float]) -> dict[float, Path]:
    """Dose -> folder for ``--save-projections`` (doses below 1 only), checked before any computation."""
    from LowDoseRobustnessLib.io.ctpd_writer import check_projection_output

    if not arguments.save_projections:
        return {}
    root = Path(arguments.save_projections)
    low = [d for d in doses if d < 1.0]
    paths = {low[0]: root} if len(low) == 1 else {d: root / dose_stem(d) for d in low}
    for path in paths.values():
        check_projection_output(path, arguments.input, arguments.overwrite)
    return paths


def run_measured(arguments, volume_paths: dict[float, Path], reconstruction_options: dict) -> int:
    """Thin, rebin and reconstruct a DICOM-CT-PD folder; write the volumes and, if asked, the projections."""
    from LowDoseRobustnessLib.io.ctpd_reader import read_projection_folder
    from LowDoseRobustnessLib.io.volumes import write_volume
    from LowDoseRobustnessLib.progress import print_progress
    from LowDoseRobustnessLib.simulation.measured import (ReconstructionGrid, save_thinned_projections,
                                                          simulate_from_projections)
    from LowDoseRobustnessLib.simulation.simulate import SimulationSettings

    if arguments.calibrate_roi:
        raise InputError("--calibrate-roi does not apply to measured projections: their photon statistics "
                         "(7033,1065) give I0")
    if arguments.incident_flux != INCIDENT_FLUX_AUTO:
        raise InputError("--incident-flux does not apply to measured projections: their photon statistics "
                         "(7033,1065) give I0")
    doses = sorted(set(arguments.dose))
    projection_paths = projection_outputs(arguments, doses)
    grid = ReconstructionGrid(matrix=arguments.matrix or 512, fov_mm=arguments.fov_mm, slice_mm=arguments.slice_mm,
                              z_range_mm=arguments.z_range, fan_views=arguments.fan_views)
    settings = SimulationSettings(backend=arguments.backend, electronic_noise_sd=arguments.electronic_noise,
                                  reconstruction=arguments.recon, reconstruction_options=reconstruction_options)
    thinning = arguments.thinning or "zabic"
    scan = read_projection_folder(arguments.input, progress=print_progress)
    print(f"read {scan.n_views} projections of {scan.detector.rows} x {scan.detector.channels} "
          f"({scan.detector.shape.lower()} detector, {scan.flying_focal_spot}, "
          f"{(scan.projection_type or 'helical or axial').lower()})")
    results = simulate_from_projections(scan, doses, settings, arguments.seed, grid, thinning,
                                        progress=print_progress)
    for dose, path in volume_paths.items():
        write_volume(results[dose], path, overwrite=arguments.overwrite)
        print(f"wrote {path} ({dose:.0%} dose)")
    for dose, path in projection_paths.items():
        save_thinned_projections(scan, dose, path, arguments.seed, thinning, arguments.electronic_noise,
                                 overwrite=arguments.overwrite)
        print(f"wrote {path} ({scan.n_views} DICOM-CT-PD projections, {dose:.0%} dose)")
    return 0
