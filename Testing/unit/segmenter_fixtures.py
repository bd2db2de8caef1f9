"""Paths to the example CT and the tiny test models; the tiny MONAI model writer."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from shared_data import REPOSITORY
from shared_data import EXAMPLES
TINY_NNUNET = REPOSITORY / "Testing" / "Data" / "tiny_nnunet"
TINY_MONAI_UNET = REPOSITORY / "Testing" / "Data" / "tiny_monai" / "unet.json"
_SCRIPT = REPOSITORY / "LowDoseRobustness" / "Scripts" / "make_tiny_monai_model.py"


def write_tiny_monai(folder: Path, network: str) -> Path:
    """Config of a randomly initialised tiny MONAI ``network`` written into ``folder``."""
    spec = importlib.util.spec_from_file_location("make_tiny_monai_model", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_tiny_model(folder, network)


def offline_totalsegmentator(root: Path) -> dict[str, str]:
    """Environment for TotalSegmentator with the tiny nnU-Net standing in for the ``total`` fast (3 mm) weights.

    The folder names are TotalSegmentator's for task 297 (trainer
    nnUNetTrainer_4000epochs_NoMirroring, nnUNetPlans, 3d_fullres); the tiny model uses its
    label values (1 spleen .. 5 liver). Usage statistics are switched off in its config.
    """
    import json
    import shutil

    model = root / "weights" / "Dataset297_TotalSegmentator_total_3mm_1559subj" / \
        "nnUNetTrainer_4000epochs_NoMirroring__nnUNetPlans__3d_fullres"
    shutil.copytree(TINY_NNUNET, model)
    (root / "home").mkdir()
    (root / "home" / "config.json").write_text(json.dumps(
        {"totalseg_id": "totalseg_offline_test", "send_usage_stats": False, "prediction_counter": 0}))
    return {"TOTALSEG_WEIGHTS_PATH": str(root / "weights"), "TOTALSEG_HOME_DIR": str(root / "home")}
