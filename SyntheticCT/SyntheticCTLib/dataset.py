"""Writing an nnU-Net v2 raw dataset: ``imagesTr/<case>_0000.nii.gz``, ``labelsTr/<case>.nii.gz``, ``dataset.json``.

nnU-Net needs label values 0..K without gaps (``labels``: {"background": 0, name: value});
:func:`label_groups.select_labels` produces such maps.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np

from LowDoseRobustnessLib.io.atomic import atomic_group, atomic_write_text, remove_with_group
from LowDoseRobustnessLib.io.volumes import write_volume
from LowDoseRobustnessLib.io.labels import LabelNames
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume

from SyntheticCTLib.contract import DATASET_JSON, IMAGES_FOLDER, LABELS_FOLDER

FILE_ENDING = ".nii.gz"


def case_id(index: int, prefix: str = "synth") -> str:
    return f"{prefix}_{index:04d}"


def check_consecutive(names: LabelNames) -> None:
    """nnU-Net requires the label values 1..K without gaps."""
    if sorted(names) != list(range(1, len(names) + 1)):
        raise InputError(f"nnU-Net needs label values 1..{len(names)} without gaps, got {sorted(names)}")


def write_nnunet_dataset(folder: str | Path, cases: Iterable[tuple[Volume, Volume]], names: LabelNames,
                         description: str = "", extra: dict | None = None, overwrite: bool = False,
                         prefix: str = "synth") -> Path:
    """Write (image HU, label map) pairs as cases ``<prefix>_0000``, ... and the dataset.json; returns its path.

    ``extra`` is stored in dataset.json under "synthetic_ct" (nnU-Net ignores unknown keys).
    All or nothing: the cases are written as temporary files and appear, with dataset.json
    last, only once every case is done; a failure or an interrupt leaves the folder as it
    was. Overwriting removes the ``<prefix>_*`` cases of the earlier dataset at that moment,
    so none is left over.
    """
    check_consecutive(names)
    folder = Path(folder)
    dataset_json = folder / DATASET_JSON
    if dataset_json.exists() and not overwrite:
        raise FileExistsError(f"{folder} already holds a dataset; pass overwrite=True (CLI: --overwrite) to replace it")
    with atomic_group():
        remove_with_group([*folder.glob(f"{IMAGES_FOLDER}/{prefix}_*{FILE_ENDING}"),
                           *folder.glob(f"{LABELS_FOLDER}/{prefix}_*{FILE_ENDING}")])
        count = 0
        for index, (image, labels) in enumerate(cases):
            if not image.same_grid(labels):
                raise InputError(f"case {index}: image and label map are on different grids")
            identifier = case_id(index, prefix)
            write_volume(image.with_array(image.array.astype(np.float32)),
                         folder / IMAGES_FOLDER / f"{identifier}_0000{FILE_ENDING}", overwrite)
            write_volume(labels, folder / LABELS_FOLDER / f"{identifier}{FILE_ENDING}", overwrite)
            count += 1
        content = {"channel_names": {"0": "CT"},
                   "labels": {"background": 0, **{name: value for value, name in sorted(names.items())}},
                   "numTraining": count, "file_ending": FILE_ENDING, "description": description}
        if extra:
            content["synthetic_ct"] = extra
        atomic_write_text(dataset_json, json.dumps(content, indent=1), overwrite)
    return dataset_json
