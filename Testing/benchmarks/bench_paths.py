"""Import paths of the benchmarks (imported first, for its effect): the repository's packages and the tests'
helpers, as the tests' conftest sets them, so a benchmark runs from a checkout without installing anything."""
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
PATHS = [REPOSITORY / "LowDoseRobustness", REPOSITORY / "SyntheticCT", REPOSITORY / "Testing" / "support",
         REPOSITORY / "Testing" / "unit"]
sys.path[:0] = [str(path) for path in PATHS if str(path) not in sys.path]
