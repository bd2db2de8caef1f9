"""``python -m LowDoseRobustnessLib.cli``: the ``lowdose`` command line without the installed script."""
import sys

from LowDoseRobustnessLib.cli import main

sys.exit(main())
