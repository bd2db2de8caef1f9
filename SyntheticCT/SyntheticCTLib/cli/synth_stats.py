"""``lowdose synth-stats``: re-estimate the per-tissue HU statistics table from a CT and its label map."""
from __future__ import annotations

from LowDoseRobustnessLib.contract import PEAK_MEMORY_BYTES_PER_VOXEL


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "synth-stats", help="estimate per-label HU mean/SD (and body HU quantiles) for lowdose synth",
        description="Mean and SD of HU under every label, of the unlabelled air / k-means classes, and the HU "
                    "quantiles of the body region: the prior knowledge of the synthetic-CT strategies.")
    parser.add_argument("ct", help="CT volume in HU")
    parser.add_argument("labels", help="its label map (same grid)")
    parser.add_argument("-o", "--output", required=True,
                        help="table CSV; the body quantiles go beside it as <name>_body_quantiles.csv")
    parser.add_argument("--names", help="'totalsegmentator' or a JSON file {value: name} (default: the sidecar)")
    parser.add_argument("--fix-nonfinite", action="store_true",
                        help="replace NaN/infinite voxels by air (-1000 HU) instead of refusing the input")
    parser.add_argument("--overwrite", action="store_true", help="replace existing tables")
    parser.set_defaults(func=run)


def _check_start(arguments):
    """Both tables checked as outputs, then the CT and the label map (on the CT's grid) read and checked."""
    from LowDoseRobustnessLib.io.outputs import Output, check_outputs
    from LowDoseRobustnessLib.io.validation import read_ct, read_label_map

    from SyntheticCTLib.hu_statistics import quantiles_path

    check_outputs([Output(arguments.output, (".csv",), "-o"),
                   Output(quantiles_path(arguments.output), (".csv",), "-o (its body quantiles)")],
                  arguments.overwrite, inputs=[arguments.ct, arguments.labels])
    ct = read_ct(arguments.ct, arguments.fix_nonfinite, PEAK_MEMORY_BYTES_PER_VOXEL["statistics"], "HU statistics")
    return ct, read_label_map(arguments.labels, ct, f"the CT {arguments.ct}")


def run(arguments) -> int:
    from SyntheticCTLib.hu_statistics import estimate_hu_statistics, write_hu_statistics
    from SyntheticCTLib.label_groups import label_names_for

    ct, labels = _check_start(arguments)
    statistics = estimate_hu_statistics(ct, labels, label_names_for(arguments.labels, arguments.names))
    for path in write_hu_statistics(statistics, arguments.output, arguments.overwrite):
        print(f"wrote {path}")
    return 0
