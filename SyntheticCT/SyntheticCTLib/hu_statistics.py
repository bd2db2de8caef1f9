"""Per-tissue HU statistics estimated from real CT and its label map (the paper's prior knowledge).

Tsanda et al. draw each organ's value from a Gaussian "estimated using CT data from
the train set" and histogram-match textures to "the body region of a reference CT".
Both are kept as small tables: ``hu_statistics.csv`` (label, name, mean_hu, sd_hu,
voxels; one row per label plus the unlabelled classes ``air``, ``unlabelled_low``,
``unlabelled_high`` with label 0) and ``hu_statistics_body_quantiles.csv``
(probability, hu: the HU quantiles of the body region).

Which statistics fill a label (:func:`assign_tissues`), in this order:

1. the tissue the user chose for it (``lowdose synth --tissues``, the Synthetic CT panel);
2. the tissue of its name (``liver`` -> ``liver``);
3. its label value, when its name is generic (``Segment_5``, ``label_5``: Slicer's and the Lib's
   names for unnamed labels) and the label map numbers its structures as the table does
   (TotalSegmentator's values for the shipped table): at least :data:`MIN_LABELS_BY_VALUE`
   such labels whose values are not simply 1..K, the numbering of a hand-drawn segmentation;
4. else :data:`DEFAULT_TISSUE`, soft tissue, with a warning.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional

import numpy as np

from LowDoseRobustnessLib.contract import GENERIC_LABEL_NAME
from LowDoseRobustnessLib.io.atomic import atomic_output
from LowDoseRobustnessLib.io.labels import LabelNames
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume

from SyntheticCTLib.body import AIR, CLUSTER_HIGH, CLUSTER_LOW, body_mask, tissue_classes_from_ct
from SyntheticCTLib.contract import HU_STATISTICS_TABLE

UNLABELLED_NAMES = {AIR: "air", CLUSTER_LOW: "unlabelled_low", CLUSTER_HIGH: "unlabelled_high"}
BODY_PROBABILITIES = np.linspace(0.0, 1.0, 101)
_COLUMNS = ("label", "name", "mean_hu", "sd_hu", "voxels")
DEFAULT_TISSUE = UNLABELLED_NAMES[CLUSTER_HIGH]
"""Soft tissue: the denser k-means class of the body outside every label (6 +- 42 HU in the shipped table),
for a label the table has no statistics for."""
MIN_LABELS_BY_VALUE = 3


@dataclass(frozen=True)
class TissueStatistics:
    """HU mean and SD over ``voxels`` voxels of one tissue (label value 0 for unlabelled classes)."""

    label: int
    name: str
    mean_hu: float
    sd_hu: float
    voxels: int


@dataclass(frozen=True)
class HUStatistics:
    """Tissue statistics by name, and the body region's HU at :data:`BODY_PROBABILITIES`."""

    tissues: dict[str, TissueStatistics]
    body_quantiles_hu: np.ndarray

    def tissue(self, name: str) -> TissueStatistics:
        if name not in self.tissues:
            raise InputError(f"no HU statistics for {name!r}; re-estimate the table with `lowdose synth-stats` "
                             "from a CT whose label map contains it")
        return self.tissues[name]

    def pooled(self, name: str, components: Iterable[str]) -> TissueStatistics:
        """Statistics of the union of ``components`` (voxel-weighted mean, pooled SD), named ``name``."""
        parts = [self.tissue(c) for c in components]
        voxels = sum(p.voxels for p in parts)
        weights = np.array([p.voxels for p in parts], dtype=np.float64) / max(voxels, 1)
        means = np.array([p.mean_hu for p in parts])
        mean = float(weights @ means)
        variance = float(weights @ (np.array([p.sd_hu for p in parts]) ** 2 + (means - mean) ** 2))
        return TissueStatistics(parts[0].label if len(parts) == 1 else 0, name, mean, variance ** 0.5, voxels)


@dataclass(frozen=True)
class TissueChoice:
    """The statistics a label is filled from: ``tissue`` (a name of the table) and why (``source``:
    chosen, name, label value or default)."""

    label: int
    name: str
    tissue: str
    source: str


def assign_tissues(labels: Mapping[int, str], statistics: HUStatistics,
                   chosen: Optional[Mapping[str, str]] = None) -> dict[int, TissueChoice]:
    """The tissue of every label (value -> name, e.g. those present in a map), by the rules of the module docstring.

    ``chosen``: label name -> tissue name, the user's choices; an unknown tissue is an :class:`InputError`.
    """
    chosen = dict(chosen or {})
    unknown = sorted(set(chosen.values()) - set(statistics.tissues))
    if unknown:
        raise InputError(f"no HU statistics for the chosen tissue(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(sorted(statistics.tissues))}")
    by_value = {t.label: t.name for t in statistics.tissues.values() if t.label > 0}
    generic = sorted(v for v, n in labels.items() if n not in statistics.tissues and _generic(n, v))
    numbered_as_table = len(generic) >= MIN_LABELS_BY_VALUE and generic != list(range(1, len(generic) + 1))
    choices = {}
    for value, name in labels.items():
        if name in chosen:
            choices[value] = TissueChoice(value, name, chosen[name], "chosen")
        elif name in statistics.tissues:
            choices[value] = TissueChoice(value, name, name, "name")
        elif numbered_as_table and value in generic and value in by_value:
            choices[value] = TissueChoice(value, name, by_value[value], "label value")
        else:
            choices[value] = TissueChoice(value, name, DEFAULT_TISSUE, "default")
    return choices


def tissue_messages(choices: Mapping[int, TissueChoice]) -> list[str]:
    """What a user should know about the choices: one note for the labels taken by value, a warning per default."""
    by_value = [c for c in choices.values() if c.source == "label value"]
    messages = [f"note: {len(by_value)} labels with generic names are filled by their label value as the table's "
                f"tissue: " + ", ".join(f"{c.name} as {c.tissue}" for c in by_value)] if by_value else []
    return messages + [f"warning: no HU statistics for {c.name!r} (label {c.label}); filled as soft tissue "
                       f"({c.tissue!r}); choose its tissue with --tissues or in the Synthetic CT panel"
                       for c in choices.values() if c.source == "default"]


def _generic(name: str, value: int) -> bool:
    match = GENERIC_LABEL_NAME.match(name or f"label_{value}")
    return match is not None and int(match.group(1)) == value


def _tissue(label: int, name: str, values: np.ndarray) -> TissueStatistics:
    return TissueStatistics(label, name, float(values.mean()), float(values.std()), int(values.size))


def estimate_hu_statistics(ct: Volume, labels: Volume, names: LabelNames) -> HUStatistics:
    """Mean/SD HU under every label present, of the unlabelled air/k-means classes, and body-region quantiles."""
    if not ct.same_grid(labels):
        raise InputError("the CT and the label map must share one voxel grid (shape, spacing, origin, direction)")
    hu = ct.array.astype(np.float64)
    label_array = np.asarray(labels.array).astype(np.int64)
    tissues = {}
    for value in np.unique(label_array[label_array > 0]):
        name = names.get(int(value), f"label_{int(value)}")
        tissues[name] = _tissue(int(value), name, hu[label_array == value])
    classes = tissue_classes_from_ct(hu, label_array)
    for cls, name in UNLABELLED_NAMES.items():
        if np.any(classes == cls):
            tissues[name] = _tissue(0, name, hu[classes == cls])
    body = body_mask(hu)
    if not body.any():
        raise InputError("no body found (no voxels above -500 HU): is this a CT in Hounsfield units?")
    return HUStatistics(tissues, np.quantile(hu[body], BODY_PROBABILITIES))


def quantiles_path(table_path: str | Path) -> Path:
    """``hu.csv`` -> ``hu_body_quantiles.csv``: where the body quantiles of a statistics table are."""
    table_path = Path(table_path)
    return table_path.with_name(table_path.stem + "_body_quantiles.csv")


def write_hu_statistics(statistics: HUStatistics, table_path: str | Path, overwrite: bool = False) -> list[Path]:
    """Write the tissue table and, beside it, ``<stem>_body_quantiles.csv`` (atomically); returns both paths."""
    table_path = Path(table_path)
    tissues = [(t.label, t.name, f"{t.mean_hu:.1f}", f"{t.sd_hu:.1f}", t.voxels)
               for t in sorted(statistics.tissues.values(), key=lambda t: (t.label, t.name))]
    quantiles = [(f"{p:.2f}", f"{q:.1f}") for p, q in zip(BODY_PROBABILITIES, statistics.body_quantiles_hu)]
    paths = [table_path, quantiles_path(table_path)]
    for path, header, rows in zip(paths, (_COLUMNS, ("probability", "hu")), (tissues, quantiles)):
        with atomic_output(path, overwrite) as temporary, temporary.open("w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(header)
            writer.writerows(rows)
    return paths


def read_hu_statistics(table_path: str | Path = HU_STATISTICS_TABLE) -> HUStatistics:
    """Read a table written by :func:`write_hu_statistics` (default: the one shipped in ``Resources/``)."""
    table_path = Path(table_path)
    quantiles_file = quantiles_path(table_path)
    for path in (table_path, quantiles_file):
        if not path.exists():
            raise InputError(f"HU statistics file not found: {path}")
    try:
        with table_path.open(newline="") as stream:
            tissues = {r["name"]: TissueStatistics(int(r["label"]), r["name"], float(r["mean_hu"]), float(r["sd_hu"]),
                                                   int(r["voxels"])) for r in csv.DictReader(stream)}
        with quantiles_file.open(newline="") as stream:
            quantiles = np.array([float(r["hu"]) for r in csv.DictReader(stream)])
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as error:
        raise InputError(f"{table_path} (with {quantiles_file.name}) is not a HU statistics table written by "
                         f"lowdose synth-stats ({type(error).__name__}: {error})") from None
    if quantiles.size != BODY_PROBABILITIES.size:
        raise InputError(f"{quantiles_file} must hold {BODY_PROBABILITIES.size} quantiles, found {quantiles.size}")
    return HUStatistics(tissues, quantiles)
