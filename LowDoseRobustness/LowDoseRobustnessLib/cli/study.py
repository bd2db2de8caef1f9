"""``lowdose study``: a resumable dose-robustness study of one or many CTs, from simulation to report."""
from __future__ import annotations

from LowDoseRobustnessLib.cli.arguments import incident_flux
from LowDoseRobustnessLib.contract import (BACKEND_CHOICES, DEFAULT_FAILURE_DICE, GEOMETRIES, INCIDENT_FLUX_AUTO,
                                           NOISE_MODES, RECONSTRUCTIONS, StudyLayout, model_usage)

DESCRIPTION = """Dose-robustness study: simulate every case at every dose (plus the 100 % reference) for every
reconstruction and noise realization, segment every scan with every model, compare each low-dose mask with the
full-dose mask of the same case/reconstruction/model (and with ground truth), write results.csv, realizations.csv
and report.html. CASES are CT files, DICOM series folders, folders of cases or a CSV manifest (case,ct,ground_truth,
contrast). Every artifact is written atomically with a manifest of what produced it: a rerun skips what is finished
(an interrupted study resumes; new doses, models, cases or realizations compute only the new cells). Exit code 1:
the study finished but some tasks failed (failures.csv)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("study", help="simulate doses, segment, compare with full dose, tables and report",
                                   description=DESCRIPTION)
    parser.add_argument("cases", nargs="+", metavar="CASES",
                        help="CT file(s) in HU (NIfTI, NRRD, MHA), DICOM series folder(s), folder(s) of cases, or a "
                             "CSV manifest with columns case,ct[,ground_truth,contrast] (paths relative to it)")
    parser.add_argument("--dose", type=float, action="append", required=True,
                        help="dose fraction in (0, 1), e.g. 0.2; repeat for several (100 %% is always simulated)")
    parser.add_argument("--recon", action="append", choices=RECONSTRUCTIONS.names,
                        help="reconstruction method; repeat to compare several (default fbp)")
    parser.add_argument("--model", action="append",
                        help=f"segmenter spec, repeat for several: {', '.join(model_usage())} (default builtin)")
    parser.add_argument("--device", help="device for segmenters that take one: cpu (default), cuda[:N]")
    parser.add_argument("--ground-truth", action="append", default=[],
                        help="label map on the CT's grid, matched to the model's labels by name (names from its "
                             ".labels.json sidecar, else TotalSegmentator's); one per case, in order")
    parser.add_argument("--case", help="case name in the tables (one case; default: the input's file name)")
    parser.add_argument("--realizations", type=int, default=1, metavar="K",
                        help="independent noise realizations per dose (default 1; the reference is realization 0)")
    parser.add_argument("--failure-dice", type=float, default=DEFAULT_FAILURE_DICE,
                        help="a realization 'fails' when its Dice against full dose is below this (attack rate; "
                             "default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="study seed; each case and realization derive theirs")
    parser.add_argument("--backend", default="auto", choices=BACKEND_CHOICES)
    parser.add_argument("--geometry", default="clinical", choices=GEOMETRIES.names)
    parser.add_argument("--incident-flux", type=incident_flux, default=INCIDENT_FLUX_AUTO, metavar="I0|auto",
                        help="I0, photons per detector pixel and view at full dose; auto (default): each case's I0 "
                             "fitted to its own noise, so dose d means d times the dose of that scan")
    parser.add_argument("--electronic-noise", type=float, default=0.0, help="detector noise SD in counts")
    parser.add_argument("--noise", default=NOISE_MODES[0], choices=NOISE_MODES,
                        help="where a lower dose's noise is drawn (default %(default)s)")
    executors = parser.add_mutually_exclusive_group()
    executors.add_argument("--workers", type=int, default=0,
                           help="run tasks in N local processes (memory-bounded; default: in this process)")
    executors.add_argument("--scheduler", metavar="ADDRESS|local:N",
                           help="run on a Dask cluster: a scheduler address, or local:N for a local cluster of N "
                                "workers (needs the 'cluster' extra; workers must see the study folder)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="torch threads per task (default: all cores in this process, cores/N with --workers N, "
                             "1 on Dask); the same N gives the same bytes on every executor, CNN outputs included")
    parser.add_argument("--fix-nonfinite", action="store_true",
                        help="replace NaN/infinite voxels by air (-1000 HU) instead of refusing the input")
    parser.add_argument("-o", "--output", required=True, help="study folder (new, empty, or an earlier study)")
    parser.add_argument("--overwrite", action="store_true",
                        help="recompute everything this study owns (and accept changed settings); files the "
                             "engine did not write are never touched")
    parser.set_defaults(func=run)


def run(arguments) -> int:
    from LowDoseRobustnessLib.cli.arguments import check_arguments
    from LowDoseRobustnessLib.io.outputs import FOLDER, Output, check_outputs
    from LowDoseRobustnessLib.study.cases import check_cases, find_cases
    from LowDoseRobustnessLib.study.plan import StudyRequest, StudySettings

    check_arguments(arguments)
    check_outputs([Output(arguments.output, FOLDER, "-o", reusable=True)], arguments.overwrite)
    settings = StudySettings(geometry=arguments.geometry, backend=arguments.backend,
                             incident_flux=arguments.incident_flux, electronic_noise_sd=arguments.electronic_noise,
                             noise=arguments.noise, seed=arguments.seed, fix_nonfinite=arguments.fix_nonfinite)
    cases, refused = check_cases(find_cases(arguments.cases, arguments.ground_truth, arguments.case),
                                 arguments.fix_nonfinite)
    request = StudyRequest(cases, arguments.dose, arguments.recon or ["fbp"], arguments.model or ["builtin"],
                           arguments.realizations, arguments.failure_dice,
                           segmenter_options={"device": arguments.device})
    return run_and_summarize(request, settings, arguments.output, arguments.overwrite, arguments.workers,
                             arguments.scheduler, arguments.threads, refused)


def run_and_summarize(request, settings, output, overwrite: bool, workers: int = 0, scheduler=None,
                      threads=None, refused: dict | None = None) -> int:
    """Run the engine with a progress bar and print the summary (also for demo); ``refused``: case -> why its
    input was refused before the study started (recorded in failures.csv)."""
    from LowDoseRobustnessLib.progress import terminal_progress
    from LowDoseRobustnessLib.study.engine import run_study

    with terminal_progress() as progress:
        outcome = run_study(request, output, settings, overwrite, workers, scheduler, progress, threads=threads,
                            refused=refused)
    print_summary(outcome)
    return outcome.exit_code


def print_summary(outcome) -> None:
    """Table 2 (median +- MAD across cases), task counts, failures and where the report is."""
    layout: StudyLayout = outcome.layout
    counts = outcome.counts
    print(f"tasks: {counts['done']} run, {counts['skipped']} already done, "
          f"{counts['failed'] + counts['blocked']} failed")
    if outcome.results is not None:
        from LowDoseRobustnessLib.evaluation.report import table_2
        from LowDoseRobustnessLib.evaluation.results import summarize

        print("median ± MAD across cases (Tsanda et al. 2024, Table 2):")
        print(table_2(summarize(outcome.results)).to_string(index=False))
        print(f"report: {layout.report_html}")
    if outcome.failures:
        print(f"{len(outcome.failures)} task(s) failed; see {layout.failures_csv}")
