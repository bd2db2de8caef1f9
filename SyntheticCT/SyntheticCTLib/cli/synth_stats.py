"""``lowdose synth-stats``: re-estimate the per-tissue HU statistics table from a CT and its label map."""
from __future__ import annotations



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
    parser.set_defaults(func=run)


def run(arguments) -> int:
    from LowDoseRobustnessLib.io.volumes import read_volume

    from SyntheticCTLib.hu_statistics import estimate_hu_statistics, write_hu_statistics
    from SyntheticCTLib.label_groups import label_names_for

    statistics = estimate_hu_statistics(read_volume(arguments.ct), read_volume(arguments.labels),
                                        label_names_for(arguments.labels, arguments.names))
    for path in write_hu_statistics(statistics, arguments.output):
        print(f"wrote {path}")
    return 0
