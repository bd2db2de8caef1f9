"""``lowdose segment``: CT in, integer label map plus ``.labels.json`` names out, on the input grid."""
from __future__ import annotations

import sys
from pathlib import Path

from LowDoseRobustnessLib.contract import PEAK_MEMORY_BYTES_PER_VOXEL, VOLUME_FORMATS, model_usage


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "segment", help="segment a CT with the built-in model, TotalSegmentator, nnU-Net or MONAI",
        description="Segment a CT (HU); the label map is written on the input grid with a .labels.json sidecar.")
    parser.add_argument("input", help="CT volume in HU: NIfTI, NRRD, MHA file or DICOM series folder")
    parser.add_argument("--model", default="builtin", help=f"one of {', '.join(model_usage())} (default builtin)")
    parser.add_argument("-o", "--output", required=True, help="label map file, e.g. seg.nii.gz")
    parser.add_argument("--device", help="cpu (default), cuda/gpu; not for the built-in model")
    parser.add_argument("--folds", nargs="+", help="nnU-Net folds to ensemble, e.g. 0 or 0 1 2 3 4 or all")
    parser.add_argument("--checkpoint", help="nnU-Net checkpoint file name (default checkpoint_final.pth)")
    parser.add_argument("--tta", action="store_true", help="nnU-Net mirroring test-time augmentation (paper: off)")
    parser.add_argument("--roi-subset", nargs="+", help="TotalSegmentator: only these classes")
    parser.add_argument("--fix-nonfinite", action="store_true",
                        help="replace NaN/infinite voxels by air (-1000 HU) instead of refusing the input")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file and its label names")
    parser.set_defaults(func=run)


def chosen_options(arguments) -> dict:
    """Only the options given on the command line, named as the segmenter classes name them."""
    options = {"device": arguments.device, "folds": tuple(arguments.folds or ()), "checkpoint": arguments.checkpoint,
               "tta": arguments.tta, "roi_subset": arguments.roi_subset}
    return {name: value for name, value in options.items() if value}


def _check_start(arguments):
    """The label map and its sidecar checked as outputs, then the CT read and checked: the CT."""
    from LowDoseRobustnessLib.cli.arguments import check_arguments
    from LowDoseRobustnessLib.io.labels import sidecar_path
    from LowDoseRobustnessLib.io.outputs import Output, check_outputs
    from LowDoseRobustnessLib.io.validation import estimated_volume_bytes, read_ct
    from LowDoseRobustnessLib.io.volumes import read_header

    check_arguments(arguments)
    size = estimated_volume_bytes(read_header(arguments.input).voxels, 1.0)
    check_outputs([Output(arguments.output, VOLUME_FORMATS, "-o", size),
                   Output(sidecar_path(arguments.output), (".json",), "-o (its label names)")],
                  arguments.overwrite, inputs=[arguments.input])
    return read_ct(arguments.input, arguments.fix_nonfinite, PEAK_MEMORY_BYTES_PER_VOXEL["segmentation"], "segmenting")


def run(arguments) -> int:
    from LowDoseRobustnessLib.io.labels import write_label_names
    from LowDoseRobustnessLib.io.volumes import write_volume
    from LowDoseRobustnessLib.progress import print_progress
    from LowDoseRobustnessLib.segmenters import get_segmenter

    volume = _check_start(arguments)
    output = Path(arguments.output)
    segmenter = get_segmenter(arguments.model, **chosen_options(arguments))
    segmentation = segmenter.segment(volume, print_progress)
    write_volume(segmentation.label_map, output, overwrite=arguments.overwrite)
    write_label_names(output, segmentation.names, overwrite=arguments.overwrite)
    print(f"wrote {output} ({len(segmentation.names)} labels) and its label names", file=sys.stderr)
    return 0
