"""Paths to the example CT and the tiny test models; the tiny MONAI model writer."""
from __future__ import annotations

import importlib.util
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLES = Path("/work/shared/data/totalsegmentator-examples")
TINY_NNUNET = REPOSITORY / "Testing" / "Data" / "tiny_nnunet"
TINY_MONAI_UNET = REPOSITORY / "Testing" / "Data" / "tiny_monai" / "unet.json"
_SCRIPT = REPOSITORY / "LowDoseRobustness" / "Scripts" / "make_tiny_monai_model.py"


def write_tiny_monai(folder: Path, network: str) -> Path:
    """Config of a randomly initialised tiny MONAI ``network`` written into ``folder``."""
    spec = importlib.util.spec_from_file_location("make_tiny_monai_model", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_tiny_model(folder, network)
