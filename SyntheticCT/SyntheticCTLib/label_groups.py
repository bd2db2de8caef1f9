"""Which labels to synthesise and train on: a subset of the label map, optionally merged.

A group spec names the output labels in order, each optionally merging original
labels by name or shell pattern: ``"liver,spleen,kidneys=kidney_*,vertebrae=vertebrae_*"``,
or a JSON file ``{"liver": ["liver"], "kidneys": ["kidney_left", "kidney_right"]}``.
"""
from __future__ import annotations

import sys
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np

from LowDoseRobustnessLib.io.json_files import read_json, read_label_value_names
from LowDoseRobustnessLib.io.labels import LabelNames, read_label_names, sidecar_path, totalsegmentator_names
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume

LabelGroups = dict[str, list[str]]
"""Output label name -> names (or shell patterns) of the original labels merged into it."""

ABDOMINAL_ORGANS = "liver,spleen,kidneys=kidney_*,vertebrae=vertebrae_*"
"""The four-label task of the Table-1 script and the tests (TotalSegmentator names)."""


def parse_label_groups(spec: str) -> LabelGroups:
    """Groups from ``name[=pattern+pattern...]`` items separated by commas, or from a JSON file."""
    if spec.endswith(".json"):
        content = read_json(spec, "label mapping file")
        if not isinstance(content, dict) or not all(isinstance(v, (str, list)) for v in content.values()):
            raise InputError(f"label mapping file {spec} must hold an object {{name: [label names]}}")
        return {str(k): [str(p) for p in ([v] if isinstance(v, str) else v)] for k, v in content.items()}
    groups = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, patterns = item.partition("=")
        groups[name.strip()] = [p.strip() for p in (patterns or name).split("+") if p.strip()]
    if not groups:
        raise InputError(f"no labels in the selection {spec!r}")
    return groups


def labels_present(labels: Volume, names: LabelNames) -> LabelNames:
    """Value -> name of every label in the map (``label_<value>`` where ``names`` has none)."""
    return {int(v): names.get(int(v), f"label_{int(v)}") for v in np.unique(np.asarray(labels.array)) if v > 0}


def select_labels(labels: Volume, names: LabelNames,
                  groups: LabelGroups | None = None) -> tuple[Volume, LabelNames, LabelGroups]:
    """The label map renumbered 1..K in group order (default: every label present, ascending value).

    Voxels of labels outside every group become 0. Returns the new map, its names, and per
    output name the original label names (present in the map) merged into it.
    """
    array = np.asarray(labels.array)
    present = labels_present(labels, names)
    groups = groups or {name: [name] for name in present.values()}
    selected = np.zeros(array.shape, dtype=np.uint8 if len(groups) < 256 else np.uint16)
    components: LabelGroups = {}
    for new_value, (group, patterns) in enumerate(groups.items(), start=1):
        members = [v for v, n in present.items() if any(fnmatchcase(n, p) for p in patterns)]
        if not members:
            raise InputError(f"label group {group!r} ({'+'.join(patterns)}) matches no label present in the label map")
        selected[np.isin(array, members) & (selected == 0)] = new_value
        components[group] = [present[v] for v in members]
    return labels.with_array(selected), dict(enumerate(groups, start=1)), components


def label_names_for(label_map_path: str | Path, source: str | None = None) -> LabelNames:
    """Names from ``source`` ("totalsegmentator" or a JSON file like a sidecar), else the map's sidecar.

    A map without sidecar is taken to be TotalSegmentator's "total" task (a note goes to stderr);
    without the ``totalsegmentator`` package its labels stay unnamed (``label_<value>``), and the
    statistics are then found by label value (:func:`.hu_statistics.assign_tissues`).
    """
    if source == "totalsegmentator":
        return totalsegmentator_names()
    if source:
        return read_label_value_names(source)
    names = read_label_names(label_map_path)
    if names:
        return names
    try:
        names = totalsegmentator_names()
    except ImportError:
        print(f"note: no {sidecar_path(label_map_path).name} beside the label map; its labels are unnamed",
              file=sys.stderr)
        return {}
    print(f"note: no {sidecar_path(label_map_path).name} beside the label map; "
          "using TotalSegmentator's 'total' class names", file=sys.stderr)
    return names
