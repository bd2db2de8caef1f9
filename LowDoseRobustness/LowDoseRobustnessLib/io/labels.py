"""Label names that travel with a label map.

A label map ``seg.nii.gz`` carries its names in a sidecar ``seg.labels.json``:
``{"1": "spleen", "2": "kidney_right", ...}`` (0 is background and is not listed).
"""
from __future__ import annotations

import json
from pathlib import Path

from LowDoseRobustnessLib.io.atomic import atomic_write_text
from LowDoseRobustnessLib.io.json_files import read_label_value_names

LabelNames = dict[int, str]

_IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".seg.nrrd", ".mha", ".mhd")


def sidecar_path(label_map_path: str | Path) -> Path:
    """``seg.nii.gz`` -> ``seg.labels.json`` (also for .nrrd/.mha; a folder gets ``labels.json`` inside)."""
    path = Path(label_map_path)
    if path.is_dir():
        return path / "labels.json"
    name = path.name
    for suffix in sorted(_IMAGE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return path.with_name(name + ".labels.json")


def write_label_names(label_map_path: str | Path, names: LabelNames, overwrite: bool = False) -> Path:
    """Write the sidecar of a label map (atomically; an existing one only with ``overwrite``)."""
    text = json.dumps({str(int(k)): v for k, v in sorted(names.items())}, indent=1)
    return atomic_write_text(sidecar_path(label_map_path), text, overwrite)


def read_label_names(label_map_path: str | Path) -> LabelNames:
    """Names from the sidecar of a label map; empty when there is none."""
    path = sidecar_path(label_map_path)
    if not path.exists():
        return {}
    return read_label_value_names(path, "label-name sidecar")


def totalsegmentator_names(task: str = "total") -> LabelNames:
    """TotalSegmentator's class map for ``task`` (needs the ``totalsegmentator`` package)."""
    from totalsegmentator.map_to_binary import class_map

    return {int(k): str(v) for k, v in class_map[task].items()}


def label_names_or_totalsegmentator(*label_map_paths: str | Path) -> tuple[LabelNames, str]:
    """Names from the first sidecar found, else TotalSegmentator's 'total' class map; with where they came from."""
    for path in label_map_paths:
        names = read_label_names(path)
        if names:
            return names, f"sidecar of {Path(path).name}"
    try:
        return totalsegmentator_names(), "TotalSegmentator's 'total' class map"
    except ImportError:
        return {}, "nowhere (no sidecar, totalsegmentator not installed)"


def relabel_by_name(labels, source_names: LabelNames, target_names: LabelNames):
    """Give a label array the values of ``target_names``, matching labels by name.

    A source label takes the value of the target label with the same name, or of the target
    whose name is its prefix (``vertebrae_L1`` -> ``vertebrae``, for models that merge a
    group); source labels without a match become background (0).
    """
    import numpy as np

    by_name = {name: value for value, name in target_names.items()}
    lookup = np.zeros(max(source_names, default=0) + 1, dtype=np.int32)
    for value, name in source_names.items():
        match = by_name.get(name) or next((v for n, v in by_name.items() if name.startswith(n + "_")), 0)
        lookup[value] = match
    labels = np.asarray(labels)
    inside = labels < lookup.size
    return np.where(inside, lookup[np.where(inside, labels, 0)], 0).astype(np.int32)
