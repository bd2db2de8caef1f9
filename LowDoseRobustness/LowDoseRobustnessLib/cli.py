"""The ``lowdose`` command line: one sub-command per job, each defined in its own ``cli_*.py`` module.

A sub-command module provides ``add_parser(subparsers)`` that registers its
arguments and sets ``func`` (taking the parsed arguments, returning an exit code).
Entries with a dot are full module names (sub-commands of the SyntheticCT module).
"""
from __future__ import annotations

import argparse
import sys
from importlib import import_module

from .backends.base import BackendUnavailable
from .progress import Cancelled
from .segmenters.base import SegmenterFailed
from .volume import InputError

COMMAND_MODULES = [
    "cli_simulate",
    "cli_segment",
    "cli_compare",
    "cli_report",
    "cli_study",
    "SyntheticCTLib.cli_synth",
    "SyntheticCTLib.cli_synth_stats",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lowdose", description="Dose-robustness testing of CT segmentation models.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        import_module(name if "." in name else f"{__package__}.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        return int(arguments.func(arguments) or 0)
    except (InputError, FileExistsError, FileNotFoundError, BackendUnavailable, SegmenterFailed, Cancelled) as error:
        print(f"lowdose {arguments.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
