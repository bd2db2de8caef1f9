"""A dose-robustness study of a CT file in Slicer without its window: the module's logic drives the engine.

    Slicer --no-main-window --python-script LowDoseRobustness/Scripts/batch_study.py \\
        CT.nii.gz -o STUDY_FOLDER --dose 0.25 [--dose 0.5 ...] [--recon fbp ...] [--model builtin] \\
        [--ground-truth LABELS.nii.gz] [--case NAME] [--seed 0] [--geometry clinical] [--overwrite]

The study folder is the one ``lowdose study`` writes with the same options (plus the inputs the
module exports into ``inputs/``). Exit code 0 on success; 2 with one line on stderr otherwise.
"""
import argparse
import sys


def main(argv=None) -> int:
    from LowDoseRobustness import LowDoseRobustnessLogic
    from LowDoseRobustnessLib.cli.process_runner import ProcessError, RunnerCallbacks
    from LowDoseRobustnessLib.cli.arguments import incident_flux
    from LowDoseRobustnessLib.contract import (BACKEND_CHOICES, GEOMETRIES, INCIDENT_FLUX_AUTO, RECONSTRUCTIONS,
                                               progress_line)
    from LowDoseRobustnessLib.errors import USER_ERRORS

    parser = argparse.ArgumentParser(prog="batch_study.py", description=__doc__.splitlines()[0])
    parser.add_argument("ct")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--dose", type=float, action="append", required=True)
    parser.add_argument("--recon", action="append", choices=RECONSTRUCTIONS.names)
    parser.add_argument("--model", default="builtin")
    parser.add_argument("--ground-truth")
    parser.add_argument("--case")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="auto", choices=BACKEND_CHOICES)
    parser.add_argument("--geometry", default="clinical", choices=GEOMETRIES.names)
    parser.add_argument("--incident-flux", type=incident_flux, default=INCIDENT_FLUX_AUTO)
    parser.add_argument("--overwrite", action="store_true")
    arguments = parser.parse_args(argv)
    logic = LowDoseRobustnessLogic()
    try:
        ct, truth = logic.load_files(arguments.ct, arguments.ground_truth, arguments.case)
        job = logic.run_study(ct, doses=arguments.dose, reconstructions=arguments.recon or ["fbp"],
                              model=arguments.model, ground_truth=truth, output_folder=arguments.output,
                              case=arguments.case, seed=arguments.seed, incident_flux=arguments.incident_flux,
                              geometry=arguments.geometry, backend=arguments.backend, overwrite=arguments.overwrite,
                              wait_for_completion=True,
                              callbacks=RunnerCallbacks(on_progress=lambda f, m: print(progress_line(f, m), flush=True)))
    except (*USER_ERRORS, ProcessError) as error:
        print(f"batch_study: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {job.layout.root} ({job.study.table_node.GetNumberOfRows()} result rows)")
    return 0


if __name__ == "__main__":
    import slicer

    slicer.util.exit(main(sys.argv[1:]))
