"""TotalSegmentator (PyPI ``totalsegmentator``), run as its own command-line process.

A separate process keeps TotalSegmentator's global settings (nnU-Net paths, torch
threads) out of ours and matches how Slicer runs it. Weights are looked up where
TotalSegmentator looks: ``TOTALSEG_WEIGHTS_PATH``, else ``TOTALSEG_HOME_DIR/nnunet/results``
(default ``~/.totalsegmentator``). Missing weights are reported before starting,
never downloaded implicitly.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from LowDoseRobustnessLib.io.volumes import read_volume, to_sitk, write_volume
from LowDoseRobustnessLib.io.labels import LabelNames, totalsegmentator_names
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume
from LowDoseRobustnessLib.errors import SegmenterFailed
from LowDoseRobustnessLib.segmenters.base import Progress, Segmentation, report
from LowDoseRobustnessLib.segmenters.resample import label_map_to_grid

MODES = ("fast", "fastest")  # task suffixes: "total_fast" = task "total" with --fast (3 mm model)
PAPER_GROUPS = ("organs", "vertebrae", "cardiac", "muscles", "ribs")  # the five "total" part models


def split_task(task: str) -> tuple[str, str | None]:
    """``"total_fast"`` -> ``("total", "fast")``; ``"total"`` -> ``("total", None)``."""
    for mode in MODES:
        if task.endswith("_" + mode):
            return task.removesuffix("_" + mode), mode
    return task, None


def weights_folders(task: str, mode: str | None, roi_subset: list[str] | None) -> dict[int, Path]:
    """Model folder per TotalSegmentator task id needed for this run (plus the 3 mm crop model for roi_subset)."""
    from totalsegmentator.config import get_weights_dir
    from totalsegmentator.map_tasks_config import TASK_ID_WEIGHTS_CONFIGS
    from totalsegmentator.python_api import get_task_config

    try:
        config = get_task_config(task, fast=mode == "fast", fastest=mode == "fastest", quiet=True)
    except ValueError as error:
        raise InputError(f"TotalSegmentator: {error}") from None
    task_ids = config["task_id"] if isinstance(config["task_id"], list) else [config["task_id"]]
    if roi_subset:
        task_ids = task_ids + [852 if task.endswith("_mr") else 297]  # robust (3 mm) crop model
    return {task_id: get_weights_dir() / TASK_ID_WEIGHTS_CONFIGS[task_id].get("rel_path", "")
            / TASK_ID_WEIGHTS_CONFIGS[task_id]["foldername"] for task_id in task_ids}


def check_weights(task: str, mode: str | None, roi_subset: list[str] | None) -> None:
    """InputError naming the missing folders, the download command and ``TOTALSEG_WEIGHTS_PATH``."""
    from totalsegmentator.bin.totalseg_download_weights import TASK_TO_ID

    missing = {i: folder for i, folder in weights_folders(task, mode, roi_subset).items() if not folder.is_dir()}
    if missing:
        downloads = dict.fromkeys(next((name for name, ids in TASK_TO_ID.items() if i in ids), str(i)) for i in missing)
        commands = "; ".join(f"`totalseg_download_weights -t {name}`" for name in downloads)
        raise InputError(
            f"TotalSegmentator weights for task {task + (f'_{mode}' if mode else '')!r} not found: "
            f"{', '.join(map(str, missing.values()))}. Download them once with {commands} (needs internet), "
            "or set TOTALSEG_WEIGHTS_PATH (or TOTALSEG_HOME_DIR) to the folder that holds them.")


def label_groups(task: str = "total") -> dict[str, list[int]]:
    """The paper's per-group evaluation for task ``total``: label values of organs, vertebrae, cardiac,
    muscles and ribs (TotalSegmentator's five part models); other tasks form one group ``all``."""
    names = totalsegmentator_names(split_task(task)[0])
    if split_task(task)[0] != "total":
        return {"all": sorted(names)}
    from totalsegmentator.map_to_binary import class_map_5_parts

    groups = {}
    for group in PAPER_GROUPS:
        members = set(class_map_5_parts[f"class_map_part_{group}"].values())
        groups[group] = sorted(value for value, name in names.items() if name in members)
    return groups


class TotalSegmentatorSegmenter:
    """``task`` as on TotalSegmentator's command line plus ``_fast``/``_fastest``; ``roi_subset`` names to keep."""

    def __init__(self, task: str = "total_fast", device: str = "cpu", roi_subset: list[str] | None = None):
        self.task, self.mode = split_task(task)
        self.device = device.replace("cuda", "gpu")  # TotalSegmentator's spelling
        self.roi_subset = list(roi_subset) if roi_subset else None
        check_weights(self.task, self.mode, self.roi_subset)
        names = totalsegmentator_names(self.task)
        unknown = sorted(set(self.roi_subset or ()) - set(names.values()))
        if unknown:
            raise InputError(f"TotalSegmentator task {self.task!r} has no classes {unknown}")
        self.names: LabelNames = {v: n for v, n in names.items() if not self.roi_subset or n in self.roi_subset}

    def command(self, image_file: Path, output_file: Path) -> list[str]:
        """The TotalSegmentator command line for one volume."""
        command = [sys.executable, "-m", "totalsegmentator.bin.TotalSegmentator", "-i", str(image_file),
                   "-o", str(output_file), "--ml", "-ta", self.task, "-d", self.device, "-nr", "1", "-ns", "1", "-q"]
        if self.mode:
            command.append(f"--{self.mode}")
        if self.roi_subset:
            command += ["-rs", *self.roi_subset, "--robust_crop"]
        return command

    def segment(self, volume: Volume, progress: Progress | None = None) -> Segmentation:
        with tempfile.TemporaryDirectory(prefix="lowdose_totalseg_") as work:
            image_file = write_volume(volume, Path(work) / "ct.nii.gz")
            output_file = Path(work) / "seg.nii.gz"
            report(progress, 0.05, f"running TotalSegmentator {self.task} {self.mode or ''} on {self.device}")
            run = subprocess.run(self.command(image_file, output_file), capture_output=True, text=True)
            if run.returncode != 0 or not output_file.exists():
                raise SegmenterFailed(f"TotalSegmentator failed (exit {run.returncode}):\n{run.stderr[-2000:]}")
            label_map = read_volume(output_file)
        report(progress, 0.95, "resampling labels to the input grid")
        segmentation = Segmentation(label_map_to_grid(to_sitk(label_map), volume), dict(self.names))
        report(progress, 1.0, "done")
        return segmentation

    def label_groups(self) -> dict[str, list[int]]:
        return {group: [v for v in values if v in self.names] for group, values in label_groups(self.task).items()}
