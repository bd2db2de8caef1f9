"""``lowdose synth``: a label map in, N synthetic CT cases out as an nnU-Net raw dataset."""
from __future__ import annotations

import sys
from dataclasses import asdict

from LowDoseRobustnessLib.contract import DEFAULT_INCIDENT_FLUX, GEOMETRIES, PEAK_MEMORY_BYTES_PER_VOXEL

from SyntheticCTLib.contract import DEFAULT_GEOMETRY, DEFAULT_STRATEGY, HU_STATISTICS_TABLE, STRATEGIES


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "synth", help="synthetic CT volumes from a label map (nnU-Net raw dataset)",
        description="Tsanda et al., 'Learning CT Segmentation from Label Masks Only': fill a label map with HU "
                    "drawn from per-tissue statistics, augment, scan it through the CT simulator.")
    parser.add_argument("labels", help="label map (NIfTI, NRRD, MHA); names from its .labels.json sidecar")
    parser.add_argument("--strategy", choices=STRATEGIES, default=DEFAULT_STRATEGY,
                        help="single: body cylinder + labels as constants; constant: piecewise-constant CT; "
                             "texture: every region textured (default %(default)s)")
    parser.add_argument("--count", type=int, default=4, help="number of synthetic cases (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, identical files)")
    parser.add_argument("-o", "--output", required=True, help="dataset folder (receives imagesTr, labelsTr, dataset.json)")
    parser.add_argument("--labels", dest="groups",
                        help="labels to keep and merge, e.g. 'liver,spleen,kidneys=kidney_*,vertebrae=vertebrae_*', "
                             "or a JSON file {name: [label names]}; default every label present")
    parser.add_argument("--names", help="'totalsegmentator' or a JSON file {value: name} (default: the sidecar)")
    parser.add_argument("--ct", help="the CT of the label map: split unlabelled voxels into air and two k-means "
                                     "classes on its HU (as the paper); default: from the label map alone")
    parser.add_argument("--statistics", default=str(HU_STATISTICS_TABLE), help="HU statistics table (lowdose synth-stats)")
    parser.add_argument("--tissues", help="JSON file {label name: tissue of the statistics table} for labels whose "
                                          "names the table lacks (default: by label value where the map numbers "
                                          "its labels as the table, else soft tissue with a warning)")
    parser.add_argument("--drop-probability", type=float, default=0.5, help="chance a label is left out (default %(default)s)")
    parser.add_argument("--rotation-max-deg", type=float, default=0.0, help="random axial rotation, Kloenne et al. 16 (0 = off)")
    parser.add_argument("--window-quantiles", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        help="clip to these quantiles of the volume, Kloenne et al. 0.6 0.99 (default off)")
    parser.add_argument("--intensity-shift-hu", type=float, default=0.0,
                        help="cluster-wise intensity range shift: largest move of a tissue-window edge in HU (0 = off)")
    parser.add_argument("--no-noise", action="store_true", help="skip the CT simulator (noise-free images)")
    parser.add_argument("--incident-flux", type=float, default=DEFAULT_INCIDENT_FLUX,
                        help="I0 of the simulated scan, photons per detector pixel and view (default %(default)g)")
    parser.add_argument("--geometry", default=DEFAULT_GEOMETRY, choices=GEOMETRIES.names, help="scanner geometry preset (default %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    parser.set_defaults(func=run)


def _check_start(arguments):
    """Arguments, the dataset folder (new or empty unless --overwrite), the label map and the CT: both volumes."""
    from LowDoseRobustnessLib.cli.arguments import check_arguments
    from LowDoseRobustnessLib.io.outputs import FOLDER, Output, check_outputs
    from LowDoseRobustnessLib.io.validation import estimated_volume_bytes, read_ct, read_label_map
    from LowDoseRobustnessLib.io.volumes import read_header

    check_arguments(arguments)
    size = estimated_volume_bytes(read_header(arguments.labels).voxels, 5.0) * arguments.count  # image + labels
    check_outputs([Output(arguments.output, FOLDER, "-o", size)], arguments.overwrite,
                  inputs=[arguments.labels, *([arguments.ct] if arguments.ct else [])])
    label_map = read_label_map(arguments.labels, bytes_per_voxel=PEAK_MEMORY_BYTES_PER_VOXEL["synthesis"],
                               purpose="synthesising CT")
    ct = read_ct(arguments.ct) if arguments.ct else None
    return label_map, ct


def run(arguments) -> int:
    from LowDoseRobustnessLib.io.json_files import read_json
    from LowDoseRobustnessLib.simulation.simulate import SimulationSettings

    from SyntheticCTLib.augment import Augmentation
    from SyntheticCTLib.dataset import write_nnunet_dataset
    from SyntheticCTLib.generate import SynthesisSettings, generate_cases
    from SyntheticCTLib.hu_statistics import assign_tissues, read_hu_statistics, tissue_messages
    from SyntheticCTLib.label_groups import label_names_for, labels_present, parse_label_groups, select_labels

    label_map, ct = _check_start(arguments)
    names = label_names_for(arguments.labels, arguments.names)
    groups = parse_label_groups(arguments.groups) if arguments.groups else None
    labels, selected_names, components = select_labels(label_map, names, groups)
    augmentation = Augmentation(arguments.drop_probability, arguments.rotation_max_deg,
                                tuple(arguments.window_quantiles) if arguments.window_quantiles else None,
                                arguments.intensity_shift_hu)
    settings = SynthesisSettings(arguments.strategy, augmentation, not arguments.no_noise,
                                 SimulationSettings(geometry=arguments.geometry, incident_flux=arguments.incident_flux))
    statistics = read_hu_statistics(arguments.statistics)
    chosen = read_json(arguments.tissues, "tissue choices file") if arguments.tissues else None
    if chosen is not None and not isinstance(chosen, dict):
        raise InputError(f"tissue choices file {arguments.tissues} must hold an object {{label name: tissue}}")
    tissues = assign_tissues(labels_present(label_map, names), statistics, chosen)
    for message in tissue_messages(tissues):
        print(message, file=sys.stderr)
    cases = generate_cases(labels, selected_names, components, statistics, settings, arguments.count, arguments.seed,
                           ct, {choice.name: choice.tissue for choice in tissues.values()})
    provenance = {"source_labels": str(arguments.labels), "strategy": arguments.strategy, "seed": arguments.seed,
                  "label_components": components, "augmentation": asdict(augmentation),
                  "noise": settings.noise, "incident_flux": arguments.incident_flux, "geometry": arguments.geometry}

    def pairs():
        for index, case in enumerate(cases):
            print(f"case {index + 1}/{arguments.count}: dropped {', '.join(case.dropped) or 'none'}", file=sys.stderr)
            yield case.image, case.labels

    path = write_nnunet_dataset(arguments.output, pairs(), selected_names,
                                f"SyntheticCT ({arguments.strategy}) from {arguments.labels}", provenance,
                                arguments.overwrite)
    print(f"wrote {arguments.count} synthetic cases and {path}")
    return 0
