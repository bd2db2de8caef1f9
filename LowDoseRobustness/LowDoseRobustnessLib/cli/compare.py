"""``lowdose compare REF_SEG TEST_SEG -o metrics.csv``: per-label agreement of two label maps.

Writes one row per label (the tidy schema of results.py), tagged with --case, --dose,
--reconstruction and --model, so that the tables of several comparisons in one folder form
a study for `lowdose report`. Label names come from the sidecar *.labels.json of the
reference (else of the test), else from TotalSegmentator's class map when it is installed.
"""
from __future__ import annotations

import argparse
import sys

from LowDoseRobustnessLib.contract import (DEFAULT_SURFACE_TOLERANCE_MM, PEAK_MEMORY_BYTES_PER_VOXEL, REFERENCES,
                                           TABLE_FORMATS, VOLUME_FORMATS)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="Dice, HD95, surface Dice and volumes per label between two label maps",
        description=__doc__.split("\n\n")[1])
    parser.add_argument("reference", help="reference label map (full-dose prediction or ground truth)")
    parser.add_argument("test", help="test label map (e.g. low-dose prediction)")
    parser.add_argument("-o", "--output", required=True, help="metrics table, .csv or .parquet")
    parser.add_argument("--disagreement", metavar="MAP", help="also write the disagreement map (.nii.gz/.nrrd)")
    parser.add_argument("--disagreement-label", type=int, metavar="LABEL",
                        help="disagreement map for this label only (default: all labels)")
    parser.add_argument("--labels", type=int, nargs="+", help="labels to report (default: all present)")
    parser.add_argument("--resample", action="store_true",
                        help="resample the test map onto the reference grid when the grids differ")
    parser.add_argument("--hd-voxels", action="store_true", help="also HD95 in voxel units (column hd95_vox)")
    parser.add_argument("--surface-tolerance-mm", type=float, default=DEFAULT_SURFACE_TOLERANCE_MM,
                        help="tolerance of the surface Dice (default: %(default)s mm)")
    parser.add_argument("--case", default="", help="case identifier for the table")
    parser.add_argument("--dose", type=float, default=float("nan"), help="dose fraction of the test scan, e.g. 0.2")
    parser.add_argument("--reconstruction", default="", help="reconstruction / denoising of the test scan")
    parser.add_argument("--model", default="", help="segmentation model")
    parser.add_argument("--reference-kind", choices=REFERENCES, default="full_dose",
                        help="what the reference is (default: %(default)s)")
    parser.add_argument("--contrast", choices=("yes", "no"), help="contrast-enhanced scan or not")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.set_defaults(func=run)


def _check_start(arguments: argparse.Namespace):
    """The table, the disagreement map and its sidecar checked as outputs together, then both maps read and checked."""
    from LowDoseRobustnessLib.cli.arguments import check_arguments
    from LowDoseRobustnessLib.io.labels import sidecar_path
    from LowDoseRobustnessLib.io.outputs import Output, check_outputs
    from LowDoseRobustnessLib.io.validation import estimated_volume_bytes, read_label_map
    from LowDoseRobustnessLib.io.volumes import read_header

    check_arguments(arguments)
    outputs = [Output(arguments.output, TABLE_FORMATS, "-o")]
    if arguments.disagreement:
        size = estimated_volume_bytes(read_header(arguments.reference).voxels, 1.0)
        outputs += [Output(arguments.disagreement, VOLUME_FORMATS, "--disagreement", size),
                    Output(sidecar_path(arguments.disagreement), (".json",), "--disagreement (its label names)")]
    check_outputs(outputs, arguments.overwrite, inputs=[arguments.reference, arguments.test])
    memory = PEAK_MEMORY_BYTES_PER_VOXEL["comparison"]
    return (read_label_map(arguments.reference, bytes_per_voxel=memory, purpose="comparing"),
            read_label_map(arguments.test, bytes_per_voxel=memory, purpose="comparing"))


def run(arguments: argparse.Namespace) -> int:
    from LowDoseRobustnessLib.evaluation.disagreement import CLASS_NAMES, disagreement_map
    from LowDoseRobustnessLib.evaluation.metrics import compare_label_maps
    from LowDoseRobustnessLib.evaluation.results import tidy_table, write_table
    from LowDoseRobustnessLib.io.labels import write_label_names
    from LowDoseRobustnessLib.io.volumes import write_volume

    reference, test = _check_start(arguments)
    metrics = compare_label_maps(reference, test, labels=arguments.labels, names=_names(arguments),
                                 surface_tolerance_mm=arguments.surface_tolerance_mm,
                                 hd_voxel_units=arguments.hd_voxels, resample=arguments.resample)
    contrast = None if arguments.contrast is None else arguments.contrast == "yes"
    table = tidy_table(metrics, case=arguments.case, dose=arguments.dose, reconstruction=arguments.reconstruction,
                       model=arguments.model, reference=arguments.reference_kind, contrast=contrast)
    path = write_table(table, arguments.output, overwrite=arguments.overwrite)
    print(f"{len(table)} labels: median Dice {table['dice'].median():.3f}, "
          f"median HD95 {table['hd95_mm'].median():.2f} mm -> {path}")
    if arguments.disagreement:
        classes = disagreement_map(reference, test, label=arguments.disagreement_label, resample=arguments.resample)
        map_path = write_volume(classes, arguments.disagreement, overwrite=arguments.overwrite)
        write_label_names(map_path, CLASS_NAMES, overwrite=arguments.overwrite)
        print(f"disagreement map -> {map_path}")
    return 0


def _names(arguments: argparse.Namespace) -> dict[int, str]:
    from LowDoseRobustnessLib.io.labels import label_names_or_totalsegmentator

    names, source = label_names_or_totalsegmentator(arguments.reference, arguments.test)
    if not source.startswith("sidecar"):
        print(f"label names: taken from {source}", file=sys.stderr)
    return names
