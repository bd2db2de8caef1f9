"""A measured multi-row scan (helical or axial, curved or flat detector, flying focal spot) in this project's frame.

This project's frame is the one of :class:`.geometry.ScanGeometry`: the source at angle beta sits at
R (cos beta, sin beta); the detector coordinate u runs along (-sin beta, cos beta). DICOM-CT-PD gives
per view the detector focal centre (rho0, phi0, z0) and the focal spot's offsets (drho, dphi, dz) from
it (Chen et al. 2015; Moen et al. 2021, Table IV). The conventions that map one onto the other are
the ones below; they follow the public readers of the LDCT Grand Challenge data (helix2fan flips the
channels and treats the row index as running towards -z; ODL's reader agrees) and could not be
checked against a real scan here:

* ``ANGLE_OFFSET_RAD``: beta = phi + pi/2, i.e. the focal centre sits at rho0 (-sin phi0, cos phi0);
* ``CHANNEL_DIRECTION``: the channel index grows against u;
* ``ROW_DIRECTION``: the row index grows towards -z.

A ray is described by the oriented line it follows: its angle theta = beta - gamma and signed
distance s = R sin gamma from the rotation axis, gamma being the fan angle towards +u. The same
line is measured again, reversed, as (theta + pi, -s). The two directions are fields of
:class:`HelicalGeometry`, so that :mod:`.conventions` can test the other choices against the data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.ctpd_reader import DetectorLayout, ProjectionScan
from LowDoseRobustnessLib.io.ctpd_tags import FLYING_FOCAL_SPOT_POSITIONS

ANGLE_OFFSET_RAD = 0.5 * np.pi
CHANNEL_DIRECTION = -1.0
ROW_DIRECTION = -1.0


def _unit(angle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.cos(angle), np.sin(angle)


@dataclass(frozen=True)
class Rays:
    """In-plane rays of some views at given signed distances s from the axis, arrays ``[view, s]``.

    ``line_angle_rad``: theta = beta - gamma; ``channel``: fractional channel index where the ray
    meets the detector; ``to_detector_mm``: in-plane source-detector path; ``to_axis_mm``: in-plane
    path from the source to the point nearest the axis; ``inside``: the ray exists (|s| < source radius).
    """

    line_angle_rad: np.ndarray
    channel: np.ndarray
    to_detector_mm: np.ndarray
    to_axis_mm: np.ndarray
    source_z_mm: np.ndarray
    focal_center_z_mm: np.ndarray
    inside: np.ndarray


@dataclass(frozen=True, eq=False)
class HelicalGeometry:
    """Per-view focal-spot and focal-centre positions in this project's frame; angles unwrapped (rad)."""

    detector: DetectorLayout
    source_angle_rad: np.ndarray
    source_radius_mm: np.ndarray
    source_z_mm: np.ndarray
    focal_center_angle_rad: np.ndarray
    focal_center_radius_mm: np.ndarray
    focal_center_z_mm: np.ndarray
    views_per_turn: int
    focal_spot_positions: int
    helical: bool
    channel_direction: float = CHANNEL_DIRECTION
    row_direction: float = ROW_DIRECTION

    @classmethod
    def from_scan(cls, scan: ProjectionScan, channel_direction: float = CHANNEL_DIRECTION,
                  row_direction: float = ROW_DIRECTION) -> "HelicalGeometry":
        """The scan's geometry; refuses views whose angles do not advance in one direction."""
        center_angle = np.unwrap(scan.focal_center_angle_rad) + ANGLE_OFFSET_RAD
        steps = np.diff(center_angle)
        if steps.size and not (np.all(steps > 0) or np.all(steps < 0)):
            raise InputError(f"{scan.folder}: the focal-centre angles do not advance in one direction from view to "
                             "view; are the files of one scan, in acquisition order (InstanceNumber)?")
        table_moves = bool(np.ptp(scan.focal_center_z_mm) > 0.01 * scan.detector.row_mm)
        if scan.projection_type == "HELICAL" and not table_moves:
            raise InputError(f"{scan.folder}: TypeofProjectionData is HELICAL but the table does not move")
        if scan.projection_type == "AXIAL" and table_moves:
            raise InputError(f"{scan.folder}: an axial scan at several table positions (step and shoot) is not "
                             "supported; give the views of one table position")
        return cls(detector=scan.detector,
                   source_angle_rad=center_angle + scan.focal_spot_angle_shift_rad,
                   source_radius_mm=scan.focal_center_radius_mm + scan.focal_spot_radius_shift_mm,
                   source_z_mm=scan.focal_center_z_mm + scan.focal_spot_z_shift_mm,
                   focal_center_angle_rad=center_angle, focal_center_radius_mm=scan.focal_center_radius_mm,
                   focal_center_z_mm=scan.focal_center_z_mm, views_per_turn=scan.views_per_turn,
                   focal_spot_positions=FLYING_FOCAL_SPOT_POSITIONS[scan.flying_focal_spot],
                   helical=table_moves,
                   channel_direction=channel_direction, row_direction=row_direction)

    @property
    def source_isocenter_mm(self) -> float:
        return float(np.median(self.focal_center_radius_mm))

    @property
    def table_feed_per_turn_mm(self) -> float:
        """Table feed per rotation (mm, signed as z per increasing beta); 0 for an axial scan."""
        if not self.helical:
            return 0.0
        slope = np.polyfit(self.focal_center_angle_rad, self.focal_center_z_mm, 1)[0]
        return float(slope * 2 * np.pi)

    @property
    def collimation_mm(self) -> float:
        """Detector height projected to the isocentre (mm)."""
        d = self.detector
        return d.rows * d.row_mm * self.source_isocenter_mm / d.focal_center_to_detector_mm

    @property
    def field_of_view_radius_mm(self) -> float:
        """Largest distance |s| from the axis that the measured fan covers on either side (mm)."""
        d = self.detector
        edge = max(d.central_channel + 0.5, d.channels - 0.5 - d.central_channel)
        if d.shape == "FLAT":
            half_angle = np.arctan(edge * d.channel_mm / d.focal_center_to_detector_mm)
        else:
            half_angle = edge * d.channel_mm / d.focal_center_to_detector_mm
        return float(self.source_isocenter_mm * np.sin(half_angle))

    def rays(self, views: np.ndarray, lateral_mm: np.ndarray) -> Rays:
        """The rays of ``views`` (indices) that pass at signed distances ``lateral_mm`` from the axis."""
        d = self.detector
        psi, radius = self.source_angle_rad[views, None], self.source_radius_mm[views, None]
        ratio = lateral_mm[None, :] / radius
        inside = np.abs(ratio) < 1
        gamma = np.arcsin(np.clip(ratio, -1, 1))
        e_x, e_y = _unit(psi)
        ray_x = -np.cos(gamma) * e_x - np.sin(gamma) * e_y
        ray_y = -np.cos(gamma) * e_y + np.sin(gamma) * e_x
        center = self.focal_center_angle_rad[views, None]
        f_x, f_y = _unit(center)
        rho_f = self.focal_center_radius_mm[views, None]
        offset_x, offset_y = radius * e_x - rho_f * f_x, radius * e_y - rho_f * f_y
        d0 = d.focal_center_to_detector_mm
        if d.shape == "FLAT":
            length = (-d0 - (offset_x * f_x + offset_y * f_y)) / (ray_x * f_x + ray_y * f_y)
            hit_x, hit_y = offset_x + length * ray_x, offset_y + length * ray_y
            lateral = -hit_x * f_y + hit_y * f_x
            channel = d.central_channel + self.channel_direction * lateral / d.channel_mm
        else:
            half_b = offset_x * ray_x + offset_y * ray_y
            length = -half_b + np.sqrt(half_b ** 2 - (offset_x ** 2 + offset_y ** 2 - d0 ** 2))
            hit_x, hit_y = offset_x + length * ray_x, offset_y + length * ray_y
            fan_angle = np.arctan2(-hit_x * f_y + hit_y * f_x, -(hit_x * f_x + hit_y * f_y))
            channel = d.central_channel + self.channel_direction * fan_angle * d0 / d.channel_mm
        return Rays(line_angle_rad=psi - gamma, channel=channel, to_detector_mm=length,
                    to_axis_mm=radius * np.cos(gamma), source_z_mm=self.source_z_mm[views, None],
                    focal_center_z_mm=self.focal_center_z_mm[views, None], inside=inside)

    def rows_for_slice(self, rays: Rays, slice_z_mm: float) -> tuple[np.ndarray, np.ndarray]:
        """(fractional row index, cos of the ray's tilt) of the rays that cross z = ``slice_z_mm`` nearest the axis.

        Single-slice rebinning (Noo, Defrise & Clackdoyle 1999, eqs. 1-2): of each in-plane line the
        detector row whose ray passes the slice height at the point nearest the rotation axis; the
        tilted ray's line integral times cos(tilt) is the in-plane one.
        """
        d = self.detector
        rise_mm = (slice_z_mm - rays.source_z_mm) * rays.to_detector_mm / rays.to_axis_mm
        detector_z = rays.source_z_mm + rise_mm
        row = d.central_row + self.row_direction * (detector_z - rays.focal_center_z_mm) / d.row_mm
        cos_tilt = rays.to_detector_mm / np.hypot(rays.to_detector_mm, rise_mm)
        return row, cos_tilt
