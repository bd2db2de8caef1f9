"""The DICOM-CT-PD tag dictionary: what this project reads from and writes to measured projection files.

DICOM-CT-PD (Chen et al. 2015, Med Phys 42:6964; user manual version 3 of the TCIA
"LDCT-and-Projection-data" collection, Moen et al. 2021, Med Phys 48:902, Table IV) stores one
projection (view) per file: the line integrals as the image, the acquisition geometry in private
tags. Sources of this table: Table IV of Moen et al. 2021 (tags, names, units); the public readers
helix2fan (github.com/faebstn96/helix2fan) and ODL's ``odl.contrib.datasets.ct.mayo`` for the value
representations (VR) and the pixel layout. Where those disagree (ODL's dictionary swaps
(7033,100B) and (7033,100C)), Table IV and helix2fan are followed. Standard library only.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CtpdTag:
    """One attribute: its tag, DICOM value representation, multiplicity, unit and meaning."""

    keyword: str
    tag: int
    vr: str
    vm: str
    unit: str
    meaning: str


_TAGS = (
    # detector (group 7029)
    CtpdTag("NumberofDetectorRows", 0x70291010, "US", "1", "", "detector rows (axial direction)"),
    CtpdTag("NumberofDetectorColumns", 0x70291011, "US", "1", "", "detector columns (channels, in-plane)"),
    CtpdTag("DetectorElementTransverseSpacing", 0x70291002, "FL", "1", "mm", "column width, measured at the detector"),
    CtpdTag("DetectorElementAxialSpacing", 0x70291006, "FL", "1", "mm", "row width, measured at the detector"),
    CtpdTag("DetectorShape", 0x7029100B, "CS", "1", "", "CYLINDRICAL, SPHERICAL or FLAT"),
    # detector focal centre per view (group 7031)
    CtpdTag("DetectorFocalCenterAngularPosition", 0x70311001, "FL", "1", "rad", "phi0, azimuth of the focal centre"),
    CtpdTag("DetectorFocalCenterAxialPosition", 0x70311002, "FL", "1", "mm", "z0, axial position of the focal centre"),
    CtpdTag("DetectorFocalCenterRadialDistance", 0x70311003, "FL", "1", "mm", "rho0, focal centre to isocentre"),
    CtpdTag("ConstantRadialDistance", 0x70311031, "FL", "1", "mm", "d0, focal centre to the central element"),
    CtpdTag("DetectorCentralElement", 0x70311033, "FL", "2", "", "(column, row), 1-based, on the focal centre-"
                                                                 "isocentre line"),
    # focal spot (source) per view (group 7033)
    CtpdTag("SourceAngularPositionShift", 0x7033100B, "FL", "1", "rad", "focal spot phi minus focal centre phi"),
    CtpdTag("SourceAxialPositionShift", 0x7033100C, "FL", "1", "mm", "focal spot z minus focal centre z"),
    CtpdTag("SourceRadialDistanceShift", 0x7033100D, "FL", "1", "mm", "focal spot rho minus focal centre rho"),
    CtpdTag("FlyingFocalSpotMode", 0x7033100E, "CS", "1", "", "FFSNONE, FFSZ, FFSXY or FFSXYZ"),
    CtpdTag("NumberofSourceAngularSteps", 0x70331013, "US", "1", "", "projections per rotation"),
    CtpdTag("NumberofSpectra", 0x70331061, "US", "1", "", "sources / tube voltages; only 1 is supported"),
    CtpdTag("PhotonStatistics", 0x70331065, "FL", "1-n", "photons", "incident photons per detector column and "
                                                                     "view (air scan, bowtie included)"),
    # projection data definitions (group 7037)
    CtpdTag("TypeofProjectionData", 0x70371009, "CS", "1", "", "AXIAL or HELICAL"),
    CtpdTag("TypeofProjectionGeometry", 0x7037100A, "CS", "1", "", "FANBEAM (divergent rays from the focal spot)"),
    # calibration (group 7041; version 1 of the manual used HUCalibrationFactor below)
    CtpdTag("WaterAttenuationCoefficient", 0x70411001, "DS", "1", "1/mm", "mu of water, for HU = 1000 (mu/mu_w - 1)"),
    CtpdTag("HUCalibrationFactor", 0x00180061, "DS", "1", "1/mm", "mu of water in files of manual version 1"),
)
TAGS = {tag.keyword: tag for tag in _TAGS}
"""Keyword -> :class:`CtpdTag` for every DICOM-CT-PD attribute this project uses."""

PRIVATE_CREATORS = {
    0x7029: "Detector System Arrangement Module",
    0x7031: "Detector Dynamics Module",
    0x7033: "Source Dynamics Module",
    0x7037: "Projection Data Definitions",
    0x7041: "Calibration Module",
}
"""Private-creator values (gggg,0010) written when a new DICOM-CT-PD file is made (headers copied keep theirs)."""

REQUIRED_PER_SCAN = ("NumberofDetectorRows", "NumberofDetectorColumns", "DetectorElementTransverseSpacing",
                     "DetectorElementAxialSpacing", "DetectorShape", "ConstantRadialDistance",
                     "DetectorCentralElement", "FlyingFocalSpotMode", "NumberofSourceAngularSteps")
"""Geometry every file must carry, with the same value in all files."""
REQUIRED_PER_VIEW = ("DetectorFocalCenterAngularPosition", "DetectorFocalCenterAxialPosition",
                     "DetectorFocalCenterRadialDistance", "PhotonStatistics")
"""Per-view values every file must carry (the focal-spot shifts are also required when a flying focal spot is on)."""
FOCAL_SPOT_SHIFTS = ("SourceAngularPositionShift", "SourceAxialPositionShift", "SourceRadialDistanceShift")
WATER_ATTENUATION = ("WaterAttenuationCoefficient", "HUCalibrationFactor")
"""Either gives mu_water (1/mm); the first present is used."""

DETECTOR_SHAPES = ("CYLINDRICAL", "FLAT")
"""Supported detector shapes (SPHERICAL is not)."""
FLYING_FOCAL_SPOT_POSITIONS = {"FFSNONE": 1, "FFSZ": 2, "FFSXY": 2, "FFSXYZ": 4}
"""Flying-focal-spot modes and how many focal-spot positions each cycles through."""
PROJECTION_GEOMETRIES = ("FANBEAM",)
DOSE_TAGS = {0x00181151: "XRayTubeCurrent", 0x00181152: "Exposure", 0x00181153: "ExposureInuAs",
             0x00188151: "XRayTubeCurrentInuA", 0x00189332: "ExposureInmAs", 0x00189345: "CTDIvol"}
"""Standard attributes proportional to the dose (tube current time product): scaled by d on write-back."""
