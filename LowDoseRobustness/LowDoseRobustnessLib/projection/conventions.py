"""Which channel and row directions the measured data fit: a check of the DICOM-CT-PD conventions on real data.

The directions in which a scan's channel and row indices run (:mod:`.helical`) follow the public
readers and could not be checked against a real scan here. The data can check them: every line is
measured twice, direct and reversed (theta + pi, -s), and the two sides of a rebinned slice agree
only when the directions are right (a reversed channel axis mirrors one side against the other; a
reversed row axis takes the two sides from different heights). The mismatch of the sides,
RMS(direct - reversed) / RMS(direct) over rays both sides see, is computed for the four choices.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from LowDoseRobustnessLib.io.ctpd_reader import ProjectionScan
from LowDoseRobustnessLib.projection.geometry import ScanGeometry
from LowDoseRobustnessLib.projection.helical import CHANNEL_DIRECTION, ROW_DIRECTION, HelicalGeometry
from LowDoseRobustnessLib.projection.rebinning import FanRebinner

CLEARLY_BETTER = 0.5
"""Another choice must halve the mismatch to be reported ..."""
NOTICEABLE_MISMATCH = 0.005
"""... and the configured one must disagree by more than this (noiseless phantom data agree to 0.4 %)."""


def side_mismatch(geometry: HelicalGeometry, target: ScanGeometry, views: np.ndarray, first: int,
                  z_mm: float) -> float:
    """RMS(direct - reversed) / RMS(direct) of the slice at ``z_mm``; ``views`` start at view ``first``."""
    rebinner = FanRebinner(geometry, target)
    sides = []
    for side in ("direct", "reversed"):
        plan = rebinner.plan(z_mm, sides=side)
        sides.append(plan.apply(views[plan.first - first:plan.stop - first]))
    direct, reversed_ = sides
    both = (direct != 0) & (reversed_ != 0)
    if not both.any():
        return 0.0
    return float(np.sqrt(np.mean((direct - reversed_)[both] ** 2) / np.mean(direct[both] ** 2)))


def direction_mismatches(scan: ProjectionScan, target: ScanGeometry, views: np.ndarray, first: int,
                         z_mm: float) -> dict[tuple[float, float], float]:
    """(channel direction, row direction) -> mismatch of the two sides, for the four choices."""
    return {(c, r): side_mismatch(HelicalGeometry.from_scan(scan, c, r), target, views, first, z_mm)
            for c, r in itertools.product((CHANNEL_DIRECTION, -CHANNEL_DIRECTION), (ROW_DIRECTION, -ROW_DIRECTION))}


def warn_if_other_directions_fit(scan: ProjectionScan, target: ScanGeometry, views: np.ndarray, first: int,
                                 z_mm: float) -> None:
    """Warn when the data fit other channel/row directions much better than the configured ones."""
    mismatches = direction_mismatches(scan, target, views, first, z_mm)
    configured = mismatches[(CHANNEL_DIRECTION, ROW_DIRECTION)]
    (channel, row), best = min(mismatches.items(), key=lambda item: item[1])
    if configured > NOTICEABLE_MISMATCH and best < CLEARLY_BETTER * configured:
        described = [f"the channel index running {'against' if channel < 0 else 'along'} the detector's u axis"
                     if channel != CHANNEL_DIRECTION else "",
                     f"the row index running towards {'-' if row < 0 else '+'}z" if row != ROW_DIRECTION else ""]
        warnings.warn(f"{scan.folder}: the direct and reversed rays of these projections disagree by "
                      f"{configured:.1%} with the DICOM-CT-PD conventions used here but by {best:.1%} with "
                      f"{' and '.join(d for d in described if d)}; the images will be blurred. Please report the "
                      "scanner (projection/helical.py holds the conventions).")
