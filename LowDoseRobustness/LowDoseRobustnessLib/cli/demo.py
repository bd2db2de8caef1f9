"""``lowdose demo``: the whole study on the bundled sample CT, the command to try first.

The 30-slice TotalSegmentator example CT shipped with the module is simulated at 20, 40,
60 and 80 % dose (plus the 100 % reference) with FBP, iterative and CNN reconstruction,
segmented with the built-in model, compared with full dose and with its ground truth, and
summarised in report.html. A second run on the same folder reuses everything.
"""
from __future__ import annotations

from LowDoseRobustnessLib.contract import DEFAULT_DOSES, GEOMETRIES, SAMPLE_CT, SAMPLE_LABELS

DEMO_OUTPUT = "demo_output"
DEMO_RECONSTRUCTIONS = ("fbp", "iterative", "cnn")
DEMO_CASE = "sample"
DEMO_WORKERS = 2
"""Local worker processes: the three reconstructions' simulations run side by side (measured faster on 2 cores)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="the whole study on the bundled sample CT (start here)",
                                   description=__doc__.split("\n\n")[1])
    parser.add_argument("-o", "--output", default=DEMO_OUTPUT, help="study folder (default: %(default)s)")
    parser.add_argument("--geometry", default="clinical", choices=GEOMETRIES.names,
                        help="scanner geometry preset (default %(default)s; fast: a quicker, coarser preview)")
    parser.add_argument("--workers", type=int, default=DEMO_WORKERS,
                        help="local worker processes (default %(default)s; 0: everything in this process)")
    parser.add_argument("--overwrite", action="store_true", help="recompute everything the demo study owns")
    parser.set_defaults(func=run)


def demo_request():
    """The demo's cells: the sample with its ground truth, four doses, three reconstructions, built-in model."""
    from LowDoseRobustnessLib.study.cases import Case
    from LowDoseRobustnessLib.study.plan import StudyRequest

    return StudyRequest((Case(DEMO_CASE, SAMPLE_CT, SAMPLE_LABELS),), DEFAULT_DOSES, DEMO_RECONSTRUCTIONS,
                        ("builtin",))


def run(arguments) -> int:
    from LowDoseRobustnessLib.cli.study import run_and_summarize
    from LowDoseRobustnessLib.study.plan import StudySettings

    return run_and_summarize(demo_request(), StudySettings(geometry=arguments.geometry), arguments.output,
                             arguments.overwrite, arguments.workers)
