"""Measured-projection test data: exact line integrals of a phantom through a small helical scanner, as DICOM-CT-PD.

The scanner follows the DICOM-CT-PD description of a third-generation CT (Chen et al. 2015): per
view the detector focal centre at (rho0, phi0, z0), i.e. (-rho0 sin phi0, rho0 cos phi0, z0), the
focal spot offset from it by (drho, dphi, dz) (flying focal spot), a cylindrical (or flat) detector
of radius d0 around the focal centre whose channel index grows along (cos phi0, sin phi0) and whose
row index grows towards -z, with the central element (1-based) on the line through the isocentre.
The forward model here is written from that description (element positions, then rays), apart
from the library's inverse mapping (rays, then detector positions), so the tests check one against
the other. Line integrals are exact (chords through cylinders and ellipsoids), not voxelised.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from LowDoseRobustnessLib.io.ctpd_tags import PRIVATE_CREATORS, TAGS
from LowDoseRobustnessLib.simulation.attenuation import MU_WATER_PER_MM
from LowDoseRobustnessLib.simulation.dose import line_integrals_from_counts, poisson_counts

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
FFS_PATTERNS = {"FFSNONE": [(0, 0)], "FFSZ": [(0, -1), (0, 1)], "FFSXY": [(-1, 0), (1, 0)],
                "FFSXYZ": [(-1, -1), (1, -1), (-1, 1), (1, 1)]}
"""Per reading in the cycle: (in-plane sign, axial sign) of the focal-spot offset."""


@dataclass(frozen=True)
class Shape:
    """An elliptic cylinder along z (half-length ``radii_mm[2]``) or an ellipsoid; adds ``mu_per_mm`` inside."""

    center_mm: tuple[float, float, float]
    radii_mm: tuple[float, float, float]
    mu_per_mm: float
    cylinder: bool = True


def water_phantom(radius_mm: float = 80.0, inserts_hu=((-100.0, (40.0, 0.0)), (300.0, (-20.0, 35.0)),
                                                        (60.0, (-25.0, -35.0))),
                  sphere_hu: float = 200.0, sphere_radius_mm: float = 8.0) -> list[Shape]:
    """A water cylinder (0 HU) in air along z, three cylindrical inserts (radius 12 mm) and a sphere at the origin."""
    water = MU_WATER_PER_MM
    shapes = [Shape((0.0, 0.0, 0.0), (radius_mm, radius_mm, 1e4), water)]
    shapes += [Shape((x, y, 0.0), (12.0, 12.0, 1e4), water * hu / 1000) for hu, (x, y) in inserts_hu]
    if sphere_radius_mm > 0:
        shapes.append(Shape((0.0, 0.0, 0.0), (sphere_radius_mm,) * 3, water * sphere_hu / 1000, cylinder=False))
    return shapes


def phantom_hu(shapes: list[Shape], x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The phantom's CT numbers at points (x, y, z) in mm (air -1000 HU)."""
    mu = np.zeros(np.broadcast(x, y, z).shape)
    for s in shapes:
        (cx, cy, cz), (rx, ry, rz) = s.center_mm, s.radii_mm
        inside = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + (0 if s.cylinder else ((z - cz) / rz) ** 2) <= 1
        if s.cylinder:
            inside &= np.abs(z - cz) <= rz
        mu += s.mu_per_mm * inside
    return 1000 * (mu / MU_WATER_PER_MM - 1)


def line_integrals(shapes: list[Shape], source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Sum over shapes of mu x chord of the segments source -> target (``[..., 3]`` in mm)."""
    direction = target - source
    total = np.zeros(direction.shape[:-1])
    for s in shapes:
        centre, radii = np.array(s.center_mm), np.array(s.radii_mm)
        scale = radii if not s.cylinder else np.array([radii[0], radii[1], np.inf])
        p = (source - centre) / np.where(np.isinf(scale), 1.0, scale)
        d = direction / np.where(np.isinf(scale), 1.0, scale)
        if s.cylinder:
            p, d = p[..., :2], d[..., :2]
        a, b, c = (d * d).sum(-1), 2 * (p * d).sum(-1), (p * p).sum(-1) - 1
        disc = np.maximum(b * b - 4 * a * c, 0.0)
        t0, t1 = (-b - np.sqrt(disc)) / (2 * a), (-b + np.sqrt(disc)) / (2 * a)
        if s.cylinder:
            dz = direction[..., 2]
            with np.errstate(divide="ignore", invalid="ignore"):
                z0 = (centre[2] - radii[2] - source[..., 2]) / dz
                z1 = (centre[2] + radii[2] - source[..., 2]) / dz
            z_lo = np.where(dz == 0, -np.inf, np.minimum(z0, z1))
            z_hi = np.where(dz == 0, np.inf, np.maximum(z0, z1))
            t0, t1 = np.maximum(t0, z_lo), np.minimum(t1, z_hi)
        chord = np.clip(np.minimum(t1, 1) - np.maximum(t0, 0), 0, None) * np.linalg.norm(direction, axis=-1)
        total += s.mu_per_mm * np.where(disc > 0, chord, 0.0)
    return total


@dataclass(frozen=True)
class HelicalScanner:
    """A small third-generation scanner; lengths in mm (detector sizes at the detector), indices 1-based (tags)."""

    rows: int = 8
    channels: int = 96
    channel_mm: float = 3.6
    row_mm: float = 3.6
    source_isocenter_mm: float = 300.0
    source_detector_mm: float = 550.0
    central_channel: float = 48.75
    central_row: float = 4.5
    views_per_turn: int = 240
    turns: float = 3.0
    pitch: float = 1.0
    shape: str = "CYLINDRICAL"
    flying_focal_spot: str = "FFSNONE"
    angle_shift_rad: float = 0.002
    z_shift_mm: float = 0.4
    radius_shift_mm: float = 0.8
    start_angle_rad: float = 0.4
    angle_step_sign: float = -1.0
    z_center_mm: float = 0.0
    helical: bool = True

    @property
    def collimation_mm(self) -> float:
        return self.rows * self.row_mm * self.source_isocenter_mm / self.source_detector_mm

    @property
    def n_views(self) -> int:
        return int(round(self.turns * self.views_per_turn)) if self.helical else self.views_per_turn

    def positions(self) -> dict[str, np.ndarray]:
        """Per view: phi0, z0, rho0 of the focal centre and the focal-spot shifts dphi, dz, drho."""
        view = np.arange(self.n_views)
        phi = self.start_angle_rad + self.angle_step_sign * 2 * np.pi * view / self.views_per_turn
        feed = self.pitch * self.collimation_mm if self.helical else 0.0
        z = self.z_center_mm + (view - (self.n_views - 1) / 2) * feed / self.views_per_turn
        cycle = np.array(FFS_PATTERNS[self.flying_focal_spot], float)
        pattern = cycle[view % len(cycle)]
        return {"phi": np.angle(np.exp(1j * phi)), "z": z, "rho": np.full(self.n_views, self.source_isocenter_mm),
                "dphi": pattern[:, 0] * self.angle_shift_rad, "dz": pattern[:, 1] * self.z_shift_mm,
                "drho": pattern[:, 0] * self.radius_shift_mm}

    def rays(self, positions: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(focal spot ``[view, 1, 1, 3]``, detector element centres ``[view, row, channel, 3]``), mm."""
        phi, z, rho = positions["phi"], positions["z"], positions["rho"]
        spot_phi, spot_rho = phi + positions["dphi"], rho + positions["drho"]
        source = np.stack([-spot_rho * np.sin(spot_phi), spot_rho * np.cos(spot_phi), z + positions["dz"]], -1)
        focal = np.stack([-rho * np.sin(phi), rho * np.cos(phi)], -1)[:, None, None, :]
        inward = np.stack([np.sin(phi), -np.cos(phi)], -1)[:, None, None, :]
        channel_axis = np.stack([np.cos(phi), np.sin(phi)], -1)[:, None, None, :]
        c = np.arange(self.channels)[None, None, :, None] - (self.central_channel - 1)
        r = np.arange(self.rows)[None, :, None, None] - (self.central_row - 1)
        d0 = self.source_detector_mm
        if self.shape == "FLAT":
            in_plane = focal + d0 * inward + c * self.channel_mm * channel_axis
        else:
            fan = c * self.channel_mm / d0
            in_plane = focal + d0 * (np.cos(fan) * inward + np.sin(fan) * channel_axis)
        in_plane = np.broadcast_to(in_plane, (self.n_views, self.rows, self.channels, 2))
        height = np.broadcast_to(z[:, None, None] - r[..., 0] * self.row_mm, (self.n_views, self.rows, self.channels))
        return source[:, None, None, :], np.concatenate([in_plane, height[..., None]], -1)

    def photon_statistics(self, incident_flux: float) -> np.ndarray:
        """I0 ``[view, channel]``: a bowtie (half the flux at the fan's edge) times a +-20 % tube-current modulation."""
        c = np.clip((np.arange(self.channels) - (self.central_channel - 1)) / (self.channels / 2), -1, 1)
        view = np.arange(self.n_views)
        modulation = 1 + 0.2 * np.cos(4 * np.pi * view / self.views_per_turn)
        return (incident_flux * modulation[:, None] * (1 - 0.5 * c[None, :] ** 2)).astype(np.float32)


@dataclass
class PhantomScan:
    """A generated scan: noiseless line integrals ``[view, row, channel]``, photon statistics, positions."""

    scanner: HelicalScanner
    noiseless: np.ndarray
    photon_statistics: np.ndarray
    positions: dict = field(default_factory=dict)

    def measured(self, dose_fraction: float = 1.0, seed: int = 0) -> np.ndarray:
        """Line integrals of a quantum-limited scan at ``dose_fraction`` x the photon statistics (eq. 2)."""
        flux = dose_fraction * self.photon_statistics[:, None, :]
        counts = poisson_counts(self.noiseless, flux, np.random.default_rng(seed))
        return line_integrals_from_counts(counts, flux)


def scan_phantom(scanner: HelicalScanner, shapes: list[Shape], incident_flux: float = 1e5) -> PhantomScan:
    positions = scanner.positions()
    source, elements = scanner.rays(positions)
    noiseless = np.stack([line_integrals(shapes, source[v], elements[v]) for v in range(scanner.n_views)])
    return PhantomScan(scanner, noiseless.astype(np.float32), scanner.photon_statistics(incident_flux), positions)


def write_ctpd(folder: Path, scan: PhantomScan, line_integrals_: np.ndarray, dose_fraction: float = 1.0,
               explicit_vr: bool = False, water_per_mm: float = MU_WATER_PER_MM, omit: tuple[str, ...] = (),
               overrides: dict | None = None) -> Path:
    """Write one DICOM-CT-PD file per view (implicit VR little endian as the Grand Challenge files, or explicit).

    ``omit`` drops tags (by keyword), ``overrides`` replaces values (keyword -> value), for error tests.
    """
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

    s, p = scan.scanner, scan.positions
    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    span = max(float(line_integrals_.max() - line_integrals_.min()), 1.0)
    slope = float(f"{span * 1.001 / 65535:.6g}")
    intercept = float(f"{line_integrals_.min() - 0.0005 * span:.6g}")
    statistics = dose_fraction * scan.photon_statistics
    for view in range(s.n_views):
        values = {"NumberofDetectorRows": s.rows, "NumberofDetectorColumns": s.channels,
                  "DetectorElementTransverseSpacing": s.channel_mm, "DetectorElementAxialSpacing": s.row_mm,
                  "DetectorShape": s.shape, "DetectorFocalCenterAngularPosition": p["phi"][view],
                  "DetectorFocalCenterAxialPosition": p["z"][view],
                  "DetectorFocalCenterRadialDistance": p["rho"][view],
                  "ConstantRadialDistance": s.source_detector_mm,
                  "DetectorCentralElement": [s.central_channel, s.central_row],
                  "SourceAngularPositionShift": p["dphi"][view], "SourceAxialPositionShift": p["dz"][view],
                  "SourceRadialDistanceShift": p["drho"][view], "FlyingFocalSpotMode": s.flying_focal_spot,
                  "NumberofSourceAngularSteps": s.views_per_turn, "NumberofSpectra": 1,
                  "PhotonStatistics": statistics[view].tolist(),
                  "TypeofProjectionData": "HELICAL" if s.helical else "AXIAL",
                  "TypeofProjectionGeometry": "FANBEAM", "WaterAttenuationCoefficient": f"{water_per_mm:.6g}"}
        values.update(overrides or {})
        dataset = pydicom.Dataset()
        dataset.file_meta = FileMetaDataset()
        dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian if explicit_vr else ImplicitVRLittleEndian
        dataset.file_meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
        dataset.SOPClassUID = CT_IMAGE_STORAGE
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.FrameOfReferenceUID = study, series, frame
        dataset.Modality, dataset.PatientName, dataset.InstanceNumber = "CT", "Phantom^Water", view + 1
        dataset.ImageType, dataset.SeriesDescription = ["ORIGINAL", "PRIMARY", "AXIAL"], "phantom projections"
        dataset.KVP, dataset.XRayTubeCurrent, dataset.Exposure = "120", int(round(200 * dose_fraction)), 100
        dataset.CTDIvol, dataset.DataCollectionDiameter = 10.0 * dose_fraction, "200"
        for group, creator in PRIVATE_CREATORS.items():
            dataset.add_new((group << 16) | 0x0010, "LO", creator)
        for keyword, value in values.items():
            if keyword not in omit:
                dataset.add_new(TAGS[keyword].tag, TAGS[keyword].vr, value)
        dataset.Rows, dataset.Columns = s.channels, s.rows
        dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
        dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 16, 15, 0
        dataset.RescaleSlope, dataset.RescaleIntercept = f"{slope:.6g}", f"{intercept:.6g}"
        stored = np.clip(np.rint((line_integrals_[view].T - intercept) / slope), 0, 65535).astype("<u2")
        dataset.PixelData = stored.tobytes()
        dataset.save_as(folder / f"proj_{view + 1:05d}.dcm", enforce_file_format=True)
    return folder
