"""Single-slice rebinning of measured multi-row data to one fan-beam sinogram per slice.

For a slice at height z and every ray of a target fan geometry (a flat-detector
:class:`.geometry.ScanGeometry`, so every fan-beam backend reconstructs the result), the
measured rays that follow the same in-plane line are found in two places: the direct ray
(source angle beta) and the reversed one (beta + pi - 2 gamma, -s), each from the rotation
whose source passes nearest to z. Each is interpolated

1. in the detector, at the channel where the line meets it and at the row whose ray crosses z
   nearest the axis (Noo, Defrise & Clackdoyle 1999, eq. 2), times cos(tilt) (their eq. 1);
2. along the views, with a triangle kernel over the exact line angles theta = beta - gamma
   (the flying focal spot makes them non-uniform), half-width the larger of the target's and the
   scan's angular step, so fewer target views average all readings;

and the two are blended by their axial distance (180-degree linear interpolation), a side whose
row falls off the detector (pitch above ~1.4) or whose channel falls outside the fan being left
out. Target rays outside the measured fan get 0 (air: the patient must lie in the scan's field of
view). An axial scan of one rotation is treated as periodic in the angle.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.projection.geometry import ScanGeometry
from LowDoseRobustnessLib.projection.helical import HelicalGeometry, Rays

EPSILON_RAD = 1e-6


@dataclass(frozen=True, eq=False)
class SlicePlan:
    """The linear map from views ``first .. stop - 1`` (acquisition order) to one slice's sinogram ``[view, column]``.

    Stage 1 interpolates each window view at each target column (4 detector taps, ``tilt`` applied
    to line integrals only); stage 2 combines those along the views for every target ray.
    """

    z_mm: float
    first: int
    stop: int
    detector_taps: np.ndarray
    detector_weights: np.ndarray
    cos_tilt: np.ndarray
    view_taps: np.ndarray
    view_weights: np.ndarray
    shape: tuple[int, int]
    extrapolated_fraction: float

    def apply(self, views: np.ndarray, tilt: bool = True) -> np.ndarray:
        """The sinogram ``[target view, column]`` from ``views[first:stop]`` given as ``[view, row, channel]``."""
        weights = self.detector_weights * self.cos_tilt[..., None] if tilt else self.detector_weights
        per_column = (np.asarray(views, np.float32).reshape(-1)[self.detector_taps] * weights).sum(-1)
        return (per_column.reshape(-1)[self.view_taps] * self.view_weights).sum(-1).reshape(self.shape)


class FanRebinner:
    """Rebins a :class:`HelicalGeometry` scan onto the fan geometry ``target`` (same rotation sense, flat detector)."""

    def __init__(self, geometry: HelicalGeometry, target: ScanGeometry):
        if target.mode != "fan":
            raise InputError("measured projections are rebinned to a fan-beam geometry (mode='fan')")
        self.geometry, self.target = geometry, target
        u = (np.arange(target.detector_columns) - (target.detector_columns - 1) / 2) * target.detector_column_mm
        self.fan_angle = np.arctan(u / target.source_detector_mm)
        self.lateral_mm = target.source_isocenter_mm * np.sin(self.fan_angle)
        order = np.argsort(geometry.source_angle_rad, kind="stable")
        psi = geometry.source_angle_rad[order]
        gaps = np.diff(psi)
        self.kernel_rad = max(2 * np.pi / target.n_views, float(gaps.max()) if gaps.size else 0.0)
        self.view_of, self.psi = order, psi
        if not geometry.helical:
            self.view_of, self.psi = self._periodic(order, psi)
        self.angle_margin = self.kernel_rad + 2 * float(np.max(gaps, initial=0.0)) + 0.05
        self._cached = (0, 0, None)

    def _rays(self, lo: int, hi: int) -> Rays:
        """The rays of the angle-sorted views ``lo .. hi - 1`` at the target's lateral positions.

        They do not depend on the slice; consecutive slices share most of their views, so the rays
        of a span of 1.5 windows are kept and reused.
        """
        first, stop, rays = self._cached
        if rays is None or lo < first or hi > stop:
            first, stop = lo, min(len(self.psi), lo + max(hi - lo, int(1.5 * (hi - lo))))
            rays = self.geometry.rays(self.view_of[first:stop], self.lateral_mm)
            self._cached = (first, stop, rays)
        part = slice(lo - first, hi - first)
        return Rays(**{name: value[part] for name, value in vars(rays).items()})

    @staticmethod
    def _periodic(order: np.ndarray, psi: np.ndarray):
        """An axial rotation repeated once before and after (angles -/+ 2 pi), so windows may wrap."""
        if psi[-1] - psi[0] < 2 * np.pi * (1 - 2 / max(len(psi), 2)):
            raise InputError(f"an axial scan needs a full rotation; these views span "
                             f"{np.degrees(psi[-1] - psi[0]):.0f} degrees")
        turn = psi[0] + 2 * np.pi
        keep = psi < turn
        order, psi = order[keep], psi[keep]
        return np.concatenate([order, order, order]), np.concatenate([psi - 2 * np.pi, psi, psi + 2 * np.pi])

    def _angle_and_height(self) -> tuple[np.ndarray, np.ndarray]:
        """Focal-centre angles and heights of a helical scan, ordered by increasing height."""
        g = self.geometry
        if g.focal_center_z_mm[-1] < g.focal_center_z_mm[0]:
            return g.focal_center_angle_rad[::-1], g.focal_center_z_mm[::-1]
        return g.focal_center_angle_rad, g.focal_center_z_mm

    @property
    def _reach_rad(self) -> float:
        """Half-width of the window of source angles one slice needs."""
        return np.pi + self.angle_margin + float(np.max(np.abs(self.fan_angle)))

    def _center_angle(self, z_mm: float) -> float:
        """The source angle at which the focal centre passes height ``z_mm`` (the middle of an axial scan)."""
        if not self.geometry.helical:
            return float(0.5 * (self.psi[len(self.psi) // 3] + self.psi[2 * len(self.psi) // 3 - 1]))
        angle, z = self._angle_and_height()
        return float(np.interp(z_mm, z, angle))

    def slice_range_mm(self) -> tuple[float, float]:
        """Heights (mm) between which every slice has its full window of views (helical) or detector rows (axial)."""
        g = self.geometry
        if not g.helical:
            half, z0 = 0.5 * g.collimation_mm, float(np.median(g.focal_center_z_mm))
            return z0 - half, z0 + half
        angle, z = self._angle_and_height()
        span = float(angle.max() - angle.min())
        if span < 2 * self._reach_rad:
            raise InputError("the scan is too short to rebin: a slice needs the views of one full rotation "
                             f"around it ({np.degrees(2 * self._reach_rad):.0f} degrees); these span "
                             f"{np.degrees(span):.0f}")
        by_angle = np.argsort(angle)
        ends = np.interp([angle.min() + self._reach_rad, angle.max() - self._reach_rad], angle[by_angle], z[by_angle])
        return float(ends.min()), float(ends.max())

    def _window(self, z_mm: float) -> tuple[float, int, int]:
        """(centre source angle, window start, window stop) of the slice at ``z_mm``, in the angle-sorted views."""
        center, reach = self._center_angle(z_mm), self._reach_rad
        lo, hi = np.searchsorted(self.psi, [center - reach, center + reach])
        if lo == 0 and self.psi[0] > center - reach or hi == len(self.psi) and self.psi[-1] < center + reach:
            low, high = self.slice_range_mm()
            raise InputError(f"slice z = {z_mm:.1f} mm lies too close to the end of the scan; choose slices in "
                             f"{low:.1f} .. {high:.1f} mm")
        return center, int(lo), int(hi)

    def view_range(self, z_mm) -> tuple[int, int]:
        """(first, stop): the views (acquisition order) the slices at heights ``z_mm`` need."""
        windows = [self.view_of[lo:hi] for _, lo, hi in (self._window(z) for z in np.atleast_1d(z_mm))]
        return int(min(w.min() for w in windows)), int(max(w.max() for w in windows)) + 1

    def plan(self, z_mm: float, sides: str = "both") -> SlicePlan:
        """The rebinning of the slice at height ``z_mm``; ``sides`` "direct" or "reversed" takes one side only."""
        g, t = self.geometry, self.target
        center, lo, hi = self._window(z_mm)
        views, psi = self.view_of[lo:hi], self.psi[lo:hi]
        first, stop = int(views.min()), int(views.max()) + 1
        rays = self._rays(lo, hi)
        line_angle = rays.line_angle_rad + (psi - g.source_angle_rad[views])[:, None]
        row, cos_tilt = g.rows_for_slice(rays, z_mm)
        taps, weights, in_fan, overshoot = _detector_taps(rays.channel, row, rays.inside, views - first, g.detector)
        view_taps, view_weights, extrapolated = self._view_taps(center, psi - center,
                                                                (line_angle - center).astype(np.float32),
                                                                in_fan, overshoot.astype(np.float32), sides)
        return SlicePlan(z_mm=float(z_mm), first=first, stop=stop, detector_taps=taps, detector_weights=weights,
                         cos_tilt=cos_tilt.astype(np.float32), view_taps=view_taps, view_weights=view_weights,
                         shape=(t.n_views, t.detector_columns), extrapolated_fraction=extrapolated)

    def _view_taps(self, center, psi, line_angle, in_fan, overshoot, sides="both"):
        """Stage 2: taps into the ``[window view, column]`` array for every target ray, both sides blended.

        ``psi`` and ``line_angle`` are relative to the slice's centre angle ``center``."""
        t = self.target
        shape = (t.n_views, t.detector_columns)
        beta, gamma = t.angles_rad[:, None], self.fan_angle[None, :]
        column = np.broadcast_to(np.arange(t.detector_columns), shape)
        direct = np.broadcast_to(_near(beta - center, 0.0), shape)  # source angle of the same ray
        reverse = _near(beta - center - 2 * gamma + np.pi, 0.0)  # source angle of the reversed ray (column mirrored)
        candidates = []
        for source, col, line_angle_wanted in ((direct, column, direct - gamma),
                                               (reverse, t.detector_columns - 1 - column, reverse + gamma)):
            taps, weights = _kernel_taps(psi, line_angle, col, line_angle_wanted, self.fan_angle, self.kernel_rad)
            in_fan_share = (in_fan.reshape(-1)[taps] * weights).sum(-1) > 0.5
            rows_off = (overshoot.reshape(-1)[taps] * weights).sum(-1)
            candidates.append((taps, weights, in_fan_share, rows_off, np.abs(source)))
        (taps_a, w_a, fan_a, off_a, dist_a), (taps_b, w_b, fan_b, off_b, dist_b) = candidates
        ok_a, ok_b = fan_a & (off_a < 0.5), fan_b & (off_b < 0.5)
        blend_a = (dist_b + EPSILON_RAD) / (dist_a + dist_b + 2 * EPSILON_RAD)  # 180-degree linear interpolation
        fallback_a = fan_a & (~fan_b | (off_a <= off_b))  # neither valid: the side in the fan, fewer rows off
        share_a = np.select([ok_a & ok_b, ok_a, ok_b], [blend_a, 1.0, 0.0], default=fallback_a.astype(float))
        if sides != "both":
            share_a = np.full(share_a.shape, 1.0 if sides == "direct" else 0.0)
        measured = fan_a | fan_b
        share_a, share_b = np.where(measured, share_a, 0.0), np.where(measured, 1.0 - share_a, 0.0)
        extrapolated = float(np.mean(measured & ~ok_a & ~ok_b))
        taps = np.concatenate([taps_a, taps_b], axis=-1).reshape(-1, 2 * taps_a.shape[-1])
        weights = np.concatenate([w_a * share_a[..., None].astype(np.float32),
                                  w_b * share_b[..., None].astype(np.float32)], axis=-1)
        return taps, weights.reshape(taps.shape), extrapolated


def _near(angle: np.ndarray, center: float) -> np.ndarray:
    """``angle`` + 2 pi k in [center - pi, center + pi)."""
    return center + np.mod(angle - center + np.pi, 2 * np.pi) - np.pi


def _kernel_taps(psi, line_angle, column, target_angle, fan_angle, half_width):
    """Triangle-kernel taps along the window views for the target line angles ``target_angle`` of ``column``.

    Angles are relative to the slice's centre angle (float32 keeps 1e-6 rad there). ``line_angle[w, k]``
    ~ psi[w] - fan_angle[k] (exact up to the focal-spot shifts), so the first view is found by a search
    in psi; the weights use the exact line angles. Returns flat taps into ``[window view, column]``.
    """
    n_window, columns = line_angle.shape
    spread = float(np.max(np.abs(line_angle - (psi[:, None] - fan_angle[None, :]))))
    gap = float(np.min(np.diff(psi))) if n_window > 1 else 1.0
    n_taps = int(math.ceil(2 * (half_width + spread) / max(gap, 1e-9))) + 1
    start = np.searchsorted(psi, target_angle + fan_angle[column] - half_width - spread).astype(np.int32)
    index = start[..., None] + np.arange(n_taps, dtype=np.int32)
    valid = index < n_window
    taps = np.minimum(index, n_window - 1) * np.int32(columns) + column[..., None].astype(np.int32)
    distance = np.abs(line_angle.reshape(-1)[taps] - target_angle[..., None].astype(np.float32))
    weights = np.where(valid, np.maximum(np.float32(0), 1 - distance / np.float32(half_width)), np.float32(0))
    total = weights.sum(-1, keepdims=True)
    return taps, weights / np.where(total > 0, total, np.float32(1))


def _detector_taps(channel, row, inside, local_view, detector):
    """Stage 1: bilinear taps (flat indices into ``[view, row, channel]``) for every window view and column.

    Returns taps, weights (zero outside the fan), the in-fan mask and how far (rows) each ray's
    row lies beyond the detector.
    """
    rows, channels = detector.rows, detector.channels
    in_fan = inside & (channel >= -0.5) & (channel <= channels - 0.5)
    c0 = np.clip(np.floor(channel), 0, max(channels - 2, 0)).astype(np.int64)
    fc = np.clip(channel - c0, 0.0, 1.0) if channels > 1 else np.zeros_like(channel)
    r0 = np.clip(np.floor(row), 0, max(rows - 2, 0)).astype(np.int64)
    fr = np.clip(row - r0, 0.0, 1.0) if rows > 1 else np.zeros_like(row)
    overshoot = np.maximum(0.0, np.maximum(-row, row - (rows - 1)))
    c1, r1 = np.minimum(c0 + 1, channels - 1), np.minimum(r0 + 1, rows - 1)
    base = local_view[:, None] * rows
    taps = np.stack([(base + r0) * channels + c0, (base + r0) * channels + c1,
                     (base + r1) * channels + c0, (base + r1) * channels + c1], axis=-1).astype(np.int32)
    weights = np.stack([(1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc], axis=-1)
    weights = np.where(in_fan[..., None], weights, 0.0).astype(np.float32)
    return taps, weights, in_fan.astype(np.float32), np.where(in_fan, overshoot, 0.0)
