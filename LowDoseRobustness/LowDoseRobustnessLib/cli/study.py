"""``lowdose study``: the whole dose-robustness study of one CT, from simulation to report."""
from __future__ import annotations

from pathlib import Path

from LowDoseRobustnessLib.contract import (BACKEND_CHOICES, DEFAULT_INCIDENT_FLUX, GEOMETRIES,
                                           PEAK_MEMORY_BYTES_PER_VOXEL, RECONSTRUCTIONS, StudyLayout)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "study", help="simulate doses, segment, compare with full dose, write tables and report",
        description="Dose-robustness study of one CT: for each reconstruction, simulate every dose, segment every "
                    "volume, compare low- with full-dose masks (and with ground truth), write results and report.")
    parser.add_argument("input", help="CT volume in HU (NIfTI, NRRD, MHA or DICOM folder)")
    parser.add_argument("--dose", type=float, action="append", required=True, help="dose fraction; repeat")
    parser.add_argument("--model", default="builtin", help="segmenter spec, e.g. builtin, totalsegmentator:total_fast, "
                                                          "nnunet:MODEL_FOLDER, monai:CONFIG.json")
    parser.add_argument("--recon", action="append", choices=RECONSTRUCTIONS.names,
                        help="reconstruction method; repeat to compare several (default fbp)")
    parser.add_argument("--ground-truth", help="label map on the CT's grid; matched to the model's labels by name "
                                               "(names from its .labels.json sidecar, else TotalSegmentator's)")
    parser.add_argument("--case", help="case name in the tables (default: the input's file name)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="auto", choices=BACKEND_CHOICES)
    parser.add_argument("--geometry", default="clinical", choices=GEOMETRIES.names)
    parser.add_argument("--incident-flux", type=float, default=DEFAULT_INCIDENT_FLUX,
                        help="I0, photons per detector pixel and view at full dose")
    parser.add_argument("-o", "--output", required=True, help="study folder")
    parser.add_argument("--fix-nonfinite", action="store_true",
                        help="replace NaN/infinite voxels by air (-1000 HU) instead of refusing the input")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier study in the folder")
    parser.set_defaults(func=run)


def _check_start(arguments):
    """Arguments, the study folder (a folder, writable, new or a study), the CT and the ground truth on its grid."""
    from LowDoseRobustnessLib.cli.arguments import check_arguments
    from LowDoseRobustnessLib.io.outputs import FOLDER, Output, check_outputs
    from LowDoseRobustnessLib.io.validation import estimated_volume_bytes, read_ct, read_label_map
    from LowDoseRobustnessLib.io.volumes import read_header
    from LowDoseRobustnessLib.study.folder import open_study_folder

    check_arguments(arguments)
    volumes = (len(set(arguments.dose)) + 1) * len(arguments.recon or ["fbp"])
    size = estimated_volume_bytes(read_header(arguments.input).voxels) * volumes
    check_outputs([Output(arguments.output, FOLDER, "-o", size, reusable=True)], arguments.overwrite,
                  inputs=[arguments.input, *([arguments.ground_truth] if arguments.ground_truth else [])])
    memory = (PEAK_MEMORY_BYTES_PER_VOXEL["simulation"]
              + PEAK_MEMORY_BYTES_PER_VOXEL["simulated_dose"] * (len(set(arguments.dose)) + 1))
    ct = read_ct(arguments.input, arguments.fix_nonfinite, memory, "the study")
    truth = read_label_map(arguments.ground_truth, ct, "the CT") if arguments.ground_truth else None
    open_study_folder(arguments.output)  # refuses a non-empty folder that holds no study
    return ct, truth


def run(arguments) -> int:
    from LowDoseRobustnessLib.io.labels import label_names_or_totalsegmentator
    from LowDoseRobustnessLib.progress import print_progress
    from LowDoseRobustnessLib.simulation.simulate import SimulationSettings
    from LowDoseRobustnessLib.study.pipeline import run_study

    ct, ground_truth = _check_start(arguments)
    ground_truth_names = label_names_or_totalsegmentator(arguments.ground_truth)[0] if ground_truth else None
    settings = SimulationSettings(geometry=arguments.geometry, backend=arguments.backend,
                                  incident_flux=arguments.incident_flux)
    case = arguments.case or Path(arguments.input).name.split(".")[0]
    results = run_study(ct, arguments.dose, arguments.output, model=arguments.model,
                        reconstructions=arguments.recon or ["fbp"], settings=settings, ground_truth=ground_truth,
                        ground_truth_names=ground_truth_names,
                        case=case, seed=arguments.seed, overwrite=arguments.overwrite,
                        progress=print_progress)
    robustness = results[results["reference"] == "full_dose"]
    print(robustness.groupby(["reconstruction", "dose"])["dice"].median().rename("median Dice vs full dose")
          .to_string())
    print(f"wrote {StudyLayout(arguments.output).report_html}")
    return 0
