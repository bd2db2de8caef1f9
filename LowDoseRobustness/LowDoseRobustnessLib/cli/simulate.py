"""``lowdose simulate``: reconstructed CT in, simulated lower-dose CT(s) out."""
from __future__ import annotations

import argparse
import inspect
from pathlib import Path

from LowDoseRobustnessLib.cli import projection_input
from LowDoseRobustnessLib.cli.arguments import check_arguments, incident_flux
from LowDoseRobustnessLib.contract import (BACKEND_CHOICES, DEFAULT_INCIDENT_FLUX, FBP_FILTERS, GEOMETRIES,
                                           INCIDENT_FLUX_AUTO, INPUT_NOISE_MODELS, KERNEL_AUTO, KERNELS,
                                           LOW_SIGNAL_CORRECTIONS, NOISE_MODES, PEAK_MEMORY_BYTES_PER_VOXEL,
                                           RECONSTRUCTIONS, VOLUME_FORMATS, VOLUME_SUFFIX, dose_stem)
from LowDoseRobustnessLib.errors import InputError


def parse_roi(text: str) -> tuple[slice, slice, slice]:
    """``z0:z1,y0:y1,x0:x1`` (voxel indices) -> slices."""
    try:
        parts = [tuple(int(v) for v in part.split(":")) for part in text.split(",")]
        if len(parts) != 3 or any(len(p) != 2 for p in parts):
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"ROI must look like z0:z1,y0:y1,x0:x1 (voxel indices), got {text!r}")
    return tuple(slice(a, b) for a, b in parts)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate", help="simulate lower-dose acquisitions of a reconstructed CT",
        description="Reproject a CT (HU), insert the noise of a lower dose in the projection domain, reconstruct.")
    parser.add_argument("input", help="CT volume in HU: NIfTI, NRRD, MHA file or DICOM series folder; "
                                      "or measured projections: a DICOM-CT-PD folder")
    parser.add_argument("--dose", type=float, action="append", required=True,
                        help="dose fraction in (0, 1], e.g. 0.2 for 20 %%; repeat for several")
    parser.add_argument("-o", "--output", required=True,
                        help="output file for one dose; for several doses a folder receiving dose_020.nii.gz ...")
    parser.add_argument("--reference", help="also write the 100 %% reference (same reproject/reconstruct chain) here")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same output)")
    parser.add_argument("--backend", default="auto", choices=BACKEND_CHOICES, help="projector backend")
    parser.add_argument("--geometry", default="clinical", choices=GEOMETRIES.names, help="scanner geometry preset")
    parser.add_argument("--incident-flux", type=incident_flux, default=INCIDENT_FLUX_AUTO, metavar="I0|auto",
                        help="I0, photons per detector pixel and view at full dose; auto (default): the I0 that fits "
                             f"the input's own noise, so dose d means d times the dose of this scan (noise-free "
                             f"inputs: {DEFAULT_INCIDENT_FLUX:g})")
    parser.add_argument("--calibrate-roi", type=parse_roi,
                        help="estimate I0 from the noise in this uniform region z0:z1,y0:y1,x0:x1 (voxels)")
    parser.add_argument("--electronic-noise", type=float, default=0.0, help="detector noise SD in counts")
    parser.add_argument("--kernel", default=KERNEL_AUTO, choices=KERNELS,
                        help="reconstruction kernel of the input, which the simulated noise takes (default auto: "
                             "fitted to the input's measured noise spectrum)")
    parser.add_argument("--low-signal", default="corrected", choices=LOW_SIGNAL_CORRECTIONS,
                        help="log of the counts: corrected ln(I0/(n+1/2)) as clinical scanners, or none (raw)")
    parser.add_argument("--input-noise", default="measured", choices=INPUT_NOISE_MODELS,
                        help="noise the input already holds: measured from its slices, or none (a phantom)")
    parser.add_argument("--recon", default="fbp", choices=RECONSTRUCTIONS.names, help="reconstruction method")
    parser.add_argument("--filter", choices=FBP_FILTERS,
                        help="FBP window over the output as a whole, relative to the image grid's Nyquist "
                             "frequency (fbp, cnn, nlm; default ram-lak: the band-limited ramp alone)")
    parser.add_argument("--regularization", type=float,
                        help="iterative: prior strength relative to the method's default (default 1)")
    parser.add_argument("--iterations", type=int, help="iterative: number of iterations (default: the method's)")
    parser.add_argument("--fix-nonfinite", action="store_true",
                        help="replace NaN/infinite voxels by air (-1000 HU) instead of refusing the input")
    parser.add_argument("--noise", default="projection", choices=NOISE_MODES,
                        help="projection: simulate the noise in the projection domain; image: draw it from local noise "
                             "power spectra learnt from a few projection-domain realizations (pays off for many "
                             "realizations: lowdose study --realizations)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    projection_input.add_arguments(parser)
    parser.set_defaults(func=run)


def _output_paths(arguments, doses: list[float]) -> dict[float, Path]:
    """One dose: ``-o`` is the file (a name with a suffix); several doses: ``-o`` is a folder of dose_020.nii.gz ..."""
    output = Path(arguments.output)
    if len(doses) == 1 and output.suffix:
        paths = {doses[0]: output}
    else:
        paths = {d: output / f"{dose_stem(d)}{VOLUME_SUFFIX}" for d in doses}
    if arguments.reference:
        paths[1.0] = Path(arguments.reference)
    return paths


def _checked_outputs(arguments, voxels: int) -> dict[float, Path]:
    """The output paths by dose, each checked (format, collisions, overwrite, room for ``voxels`` voxels)."""
    from LowDoseRobustnessLib.io.outputs import FOLDER, Output, check_outputs
    from LowDoseRobustnessLib.io.validation import estimated_volume_bytes

    paths = _output_paths(arguments, sorted(set(arguments.dose)))
    size = estimated_volume_bytes(voxels)
    outputs = [Output(path, VOLUME_FORMATS, "--reference" if arguments.reference and dose == 1.0 else "-o", size)
               for dose, path in paths.items()]
    if Path(arguments.output) not in paths.values():  # several doses: -o is their folder
        outputs.append(Output(arguments.output, FOLDER, "-o", reusable=True))
    check_outputs(outputs, arguments.overwrite, inputs=[arguments.input])
    return paths


def _check_start(arguments):
    """Arguments, every output and the input CT (with the memory it will need), before anything is computed:
    the CT and the output paths by dose."""
    from LowDoseRobustnessLib.io.validation import read_ct
    from LowDoseRobustnessLib.io.volumes import read_header

    check_arguments(arguments)
    paths = _checked_outputs(arguments, read_header(arguments.input).voxels)
    memory = PEAK_MEMORY_BYTES_PER_VOXEL["simulation"] + PEAK_MEMORY_BYTES_PER_VOXEL["simulated_dose"] * len(paths)
    if arguments.noise == "image":
        memory += PEAK_MEMORY_BYTES_PER_VOXEL["image_noise_dose"] * len(set(arguments.dose) | {1.0})
    return read_ct(arguments.input, arguments.fix_nonfinite, memory, "simulating"), paths


def reconstruction_options(arguments) -> dict:
    """The given reconstruction options, refusing those the chosen method does not take."""
    given = {"filter_name": arguments.filter, "regularization": arguments.regularization,
             "iterations": arguments.iterations}
    given = {name: value for name, value in given.items() if value is not None}
    accepted = inspect.signature(RECONSTRUCTIONS.load(arguments.recon)).parameters
    refused = [name for name in given if name not in accepted]
    if refused:
        flags = ", ".join("--" + {"filter_name": "filter"}.get(name, name) for name in refused)
        raise InputError(f"{flags} does not apply to --recon {arguments.recon}")
    return given


def run(arguments) -> int:
    from LowDoseRobustnessLib.io.ctpd_reader import is_projection_folder
    from LowDoseRobustnessLib.io.volumes import write_volume
    from LowDoseRobustnessLib.progress import print_progress
    from LowDoseRobustnessLib.simulation.image_noise import simulate_realizations
    from LowDoseRobustnessLib.simulation.simulate import (SimulationSettings, calibrate_incident_flux, make_projector,
                                                          with_incident_flux)

    if is_projection_folder(arguments.input):
        check_arguments(arguments)
        if arguments.noise == "image":
            raise InputError("--noise image applies to a reconstructed CT; measured projections are thinned "
                             "in the projection domain")
        return projection_input.run_measured(arguments, _checked_outputs(arguments, voxels=0),
                                             reconstruction_options(arguments))
    projection_input.check_volume_input(arguments)
    volume, paths = _check_start(arguments)
    options = reconstruction_options(arguments)
    settings = SimulationSettings(geometry=arguments.geometry, backend=arguments.backend,
                                  incident_flux=arguments.incident_flux, electronic_noise_sd=arguments.electronic_noise,
                                  reconstruction=arguments.recon, reconstruction_options=options,
                                  kernel=arguments.kernel, low_signal=arguments.low_signal,
                                  input_noise=arguments.input_noise, noise=arguments.noise)
    projector = make_projector(volume, settings)
    if arguments.calibrate_roi:
        flux = calibrate_incident_flux(volume, arguments.calibrate_roi, settings, arguments.seed)
        print(f"calibrated incident flux I0 = {flux:.4g} photons per detector pixel and view")
        settings = with_incident_flux(settings, flux)
    results, = simulate_realizations(volume, arguments.dose, settings, [arguments.seed], projector,
                                     model_seed=arguments.seed, progress=print_progress)
    for dose, path in paths.items():
        write_volume(results[dose], path, overwrite=arguments.overwrite)
        print(f"wrote {path} ({dose:.0%} dose)")
    return 0
