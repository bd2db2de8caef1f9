"""``lowdose report RESULTS_DIR``: HTML report of all results tables below a folder.

Reads every `lowdose compare` table (.csv/.parquet) below RESULTS_DIR (and case
metadata from RESULTS_DIR/cases.csv, see results.py) and writes report.html, summary.csv
and figures/ into RESULTS_DIR/report (or -o).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from LowDoseRobustnessLib.contract import TABLE_FORMATS


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("report", help="HTML report (tables and figures) of a folder of results",
                                   description=__doc__.split("\n\n")[1])
    parser.add_argument("results_dir", help="folder with the metrics tables of `lowdose compare`")
    parser.add_argument("-o", "--output-dir", help="where to write the report (default: RESULTS_DIR/report)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report")
    parser.set_defaults(func=run)


def _check_start(output_dir: Path, overwrite: bool) -> None:
    """report.html, summary.csv and figures/ checked as outputs before the tables are read."""
    from LowDoseRobustnessLib.io.outputs import FOLDER, Output, check_outputs

    check_outputs([Output(output_dir / "report.html", (".html",), "-o"),
                   Output(output_dir / "summary.csv", TABLE_FORMATS, "-o"),
                   Output(output_dir / "figures", FOLDER, "-o")], overwrite)


def run(arguments: argparse.Namespace) -> int:
    from LowDoseRobustnessLib.evaluation.report import write_report
    from LowDoseRobustnessLib.evaluation.results import read_results

    output_dir = Path(arguments.output_dir or Path(arguments.results_dir) / "report")
    _check_start(output_dir, arguments.overwrite)
    page = write_report(read_results(arguments.results_dir), output_dir, overwrite=arguments.overwrite)
    print(f"report -> {page}")
    return 0
