"""Where the tests find the repository and the real CT data of ``../shared/data`` (beside the checkout)."""
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLES = REPOSITORY.parent / "shared" / "data" / "totalsegmentator-examples"
"""TotalSegmentator's example CTs and labels (see shared/data/README.md)."""
