"""Where two label maps disagree: a class per voxel on the reference grid.

Classes (voxel values of the map, defined in :data:`.contract.DISAGREEMENT_CLASSES`):

* 0 ``AGREE``: same label in both maps (background included).
* 1 ``MISSED``: labelled in the reference only (lost at low dose); the test holds background.
* 2 ``ADDED``: labelled in the test only (appeared at low dose); the reference holds background.
* 3 ``RELABELLED``: labelled in both, with different labels (missed for one label, added for the other).

For one label (``label=``) the map reads: 0 both or neither hold the label, 1 only the
reference holds it, 2 only the test holds it; class 3 does not occur.
"""
from __future__ import annotations

import numpy as np

from LowDoseRobustnessLib.contract import ADDED, AGREE, DISAGREEMENT_CLASSES, MISSED, RELABELLED
from LowDoseRobustnessLib.evaluation.label_grid import labels_on_reference_grid
from LowDoseRobustnessLib.volume import Volume

CLASS_NAMES = {c.value: c.name for c in DISAGREEMENT_CLASSES if c.value != AGREE}
"""Names of the classes, in the form of a label-name sidecar (see :mod:`..io.labels`)."""


def disagreement_map(reference: Volume, test: Volume, label: int | None = None, resample: bool = False) -> Volume:
    """Class map (uint8, values above) of ``test`` against ``reference``, on the reference grid.

    ``label``: classes for that label alone instead of all labels. ``resample``: resample
    ``test`` onto the reference grid by nearest neighbour when the grids differ.
    """
    reference_labels = reference.array
    test_labels = labels_on_reference_grid(reference, test, resample)
    if label is not None:
        reference_labels, test_labels = reference_labels == label, test_labels == label
    in_reference, in_test = reference_labels != 0, test_labels != 0
    classes = np.zeros(reference_labels.shape, dtype=np.uint8)
    classes[in_reference & ~in_test] = MISSED
    classes[in_test & ~in_reference] = ADDED
    classes[in_reference & in_test & (reference_labels != test_labels)] = RELABELLED
    return reference.with_array(classes)
