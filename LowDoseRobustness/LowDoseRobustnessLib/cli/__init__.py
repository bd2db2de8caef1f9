"""The ``lowdose`` command line: one sub-command per job, each in its own module of this package.

A sub-command module provides ``add_parser(subparsers)``, which registers its arguments and
sets ``func`` (taking the parsed arguments, returning an exit code). The modules import
only light things at the top (:mod:`..contract`, argparse) and their heavy libraries inside
``func``, so ``lowdose --help`` answers at once. The core commands are catalogued in
:data:`.contract.COMMANDS`; other packages add theirs through the entry-point group
:data:`.contract.COMMAND_ENTRY_POINTS` or by passing ``extra_commands`` to :func:`main`
(as SyntheticCT's own ``main`` does where no package metadata exists, inside Slicer).
"""
from __future__ import annotations

import argparse
import sys
from importlib import import_module
from typing import Mapping, Optional, Sequence

from LowDoseRobustnessLib import __version__
from LowDoseRobustnessLib.contract import COMMAND_ENTRY_POINTS, COMMANDS
from LowDoseRobustnessLib.cli.outcome import USER_ERROR_EXIT, run_command


def plugin_commands() -> dict[str, str]:
    """Sub-command name -> module from installed packages' ``lowdose.commands`` entry points."""
    from importlib.metadata import entry_points

    return {entry.name: entry.value for entry in entry_points(group=COMMAND_ENTRY_POINTS)}


class OneLineParser(argparse.ArgumentParser):
    """A parser (and, through ``add_subparsers``, sub-parsers) whose usage errors are one line, exit code 2."""

    def error(self, message: str):
        self.exit(USER_ERROR_EXIT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(extra_commands: Optional[Mapping[str, str]] = None) -> argparse.ArgumentParser:
    """The parser with the core sub-commands, the installed plugins' and ``extra_commands`` (name -> module)."""
    parser = OneLineParser(prog="lowdose", description="Dose-robustness testing of CT segmentation models.")
    parser.add_argument("--version", action="version", version=f"lowdose {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {name: COMMANDS[name] for name in COMMANDS}
    modules.update(plugin_commands())
    modules.update(extra_commands or {})
    for module in dict.fromkeys(modules.values()):
        import_module(module).add_parser(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None, extra_commands: Optional[Mapping[str, str]] = None) -> int:
    """Run one sub-command; returns the exit code (0 done, 2 a user's mistake in one line, see :mod:`.outcome`).

    Usage errors, ``--help`` and ``--version`` end with SystemExit, as argparse does.
    """
    arguments = build_parser(extra_commands).parse_args(argv)
    return run_command(arguments.command, lambda: arguments.func(arguments))


if __name__ == "__main__":
    sys.exit(main())
