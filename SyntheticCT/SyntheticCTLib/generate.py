"""N synthetic CT cases from one label map: drop labels, synthesise HU, augment, add CT noise.

Case i draws from ``numpy.random.default_rng([seed, i])``: the same seed gives bit-identical
cases, and case i does not depend on how many cases are generated.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Mapping, Optional

import numpy as np

from LowDoseRobustnessLib.io.labels import LabelNames
from LowDoseRobustnessLib.simulation.simulate import SimulationSettings, make_projector
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume

from SyntheticCTLib.augment import Augmentation, drop_labels, intensity_range_shift, rotate_axial, window_quantiles
from SyntheticCTLib.body import tissue_classes_from_ct, tissue_classes_from_labels
from SyntheticCTLib.hu_statistics import HUStatistics
from SyntheticCTLib.label_groups import LabelGroups
from SyntheticCTLib.noise import FAST_SIMULATION, add_ct_noise
from SyntheticCTLib.contract import STRATEGIES
from SyntheticCTLib.strategies import LabelTissues, all_labels, single_label


@dataclass(frozen=True)
class SynthesisSettings:
    """strategy: one of :data:`.contract.STRATEGIES`. noise: pass through the CT simulator at
    ``simulation.incident_flux`` (I0 photons per detector pixel and view)."""

    strategy: str = "texture"
    augmentation: Augmentation = field(default_factory=Augmentation)
    noise: bool = True
    simulation: SimulationSettings = FAST_SIMULATION

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise InputError(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")


@dataclass(frozen=True)
class SyntheticCase:
    image: Volume
    labels: Volume
    dropped: tuple[str, ...]


def label_tissues(names: LabelNames, components: LabelGroups, statistics: HUStatistics,
                  tissues: Optional[Mapping[str, str]] = None) -> LabelTissues:
    """HU statistics per label value, pooled over the original labels merged into it.

    ``tissues``: original label name -> tissue of the table (:func:`.hu_statistics.assign_tissues`);
    a name missing there is looked up as a tissue itself.
    """
    tissues = tissues or {}
    return {value: statistics.pooled(name, [tissues.get(c, c) for c in components.get(name, [name])])
            for value, name in names.items()}


def synthesize_case(labels: Volume, names: LabelNames, tissues: LabelTissues, statistics: HUStatistics,
                    settings: SynthesisSettings, rng: np.random.Generator, ct: Optional[Volume] = None,
                    projector=None) -> SyntheticCase:
    """One case. ``ct`` (optional, same grid): split unlabelled voxels on its HU, as the paper; else from labels only."""
    augmentation = settings.augmentation
    kept, dropped = drop_labels(np.asarray(labels.array), augmentation.drop_probability, rng)
    kept_labels = labels.with_array(kept)
    if settings.strategy == "single":
        image = single_label(kept_labels, tissues, statistics, rng)
    else:
        classes = (tissue_classes_from_ct(ct.array, kept) if ct is not None
                   else tissue_classes_from_labels(kept, labels.spacing, rng))
        image = all_labels(kept_labels, classes, tissues, statistics, rng, textured=settings.strategy == "texture")
    hu = image.array
    if augmentation.rotation_max_deg > 0:
        hu, kept = rotate_axial(hu, kept, rng.uniform(-augmentation.rotation_max_deg, augmentation.rotation_max_deg))
    if settings.noise:
        hu = add_ct_noise(image.with_array(hu), settings.simulation, int(rng.integers(2 ** 31)), projector).array
    if augmentation.intensity_shift_hu > 0:
        hu = intensity_range_shift(hu, augmentation.intensity_shift_hu, rng)
    if augmentation.window_quantiles is not None:
        hu = window_quantiles(hu, *augmentation.window_quantiles)
    return SyntheticCase(image.with_array(hu), labels.with_array(kept), tuple(names[v] for v in dropped))


def generate_cases(labels: Volume, names: LabelNames, components: LabelGroups, statistics: HUStatistics,
                   settings: SynthesisSettings, count: int, seed: int = 0, ct: Optional[Volume] = None,
                   tissues: Optional[Mapping[str, str]] = None) -> Iterator[SyntheticCase]:
    """``count`` cases from a label map with consecutive values (:func:`label_groups.select_labels`);
    ``tissues`` as for :func:`label_tissues`."""
    if count < 1:
        raise InputError(f"the number of synthetic cases must be at least 1, got {count}")
    if ct is not None and not ct.same_grid(labels):
        raise InputError("the CT and the label map must share one voxel grid (shape, spacing, origin, direction)")
    tissues = label_tissues(names, components, statistics, tissues)
    projector = make_projector(labels, settings.simulation) if settings.noise else None
    for index in range(count):
        yield synthesize_case(labels, names, tissues, statistics, settings, np.random.default_rng([seed, index]),
                              ct, projector)
