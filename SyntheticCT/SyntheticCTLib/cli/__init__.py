"""SyntheticCT's ``lowdose`` sub-commands (``synth``, ``synth-stats``).

Installed with pip they come through the ``lowdose.commands`` entry points; :func:`main`
runs ``lowdose`` with them where no package metadata exists (inside Slicer).
"""
from __future__ import annotations

import sys
from typing import Optional, Sequence

from SyntheticCTLib.contract import COMMANDS


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``lowdose`` with SyntheticCT's sub-commands added."""
    from LowDoseRobustnessLib.cli import main as lowdose_main

    return lowdose_main(argv, extra_commands=COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
