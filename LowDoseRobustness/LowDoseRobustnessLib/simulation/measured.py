"""Lower-dose scans from measured projections (a DICOM-CT-PD folder): the paper's method on real data (sec. 3.1).

Every view's line integrals l and its photon statistics I0 (air scan, per detector column) give
counts n = I0 exp(-l) (eq. 1), thinned to dose d (Zabic et al. 2013, eq. 3, or binomially;
:func:`.simulate.thin_measured_projections`) and turned back into line integrals with the flux
d I0. Each view draws from its own random stream (seed, view), so a view is thinned the same way
whichever slices are being reconstructed and when it is written back. The views are then rebinned
to one fan-beam sinogram per slice (:mod:`..projection.rebinning`) and reconstructed with the
chosen method through a fan-beam projector; the 100 % reference is the measured data through the
same chain. Work proceeds in blocks of slices so that a long scan is never held in memory whole.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from LowDoseRobustnessLib.contract import THINNING_METHODS
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.ctpd_reader import ProjectionScan, read_projection_folder
from LowDoseRobustnessLib.progress import CancelCheck, Progress, ProgressCallback
from LowDoseRobustnessLib.projection import get_projector
from LowDoseRobustnessLib.projection.conventions import warn_if_other_directions_fit
from LowDoseRobustnessLib.projection.geometry import ScanGeometry
from LowDoseRobustnessLib.projection.helical import HelicalGeometry
from LowDoseRobustnessLib.projection.orientation import image_orientation
from LowDoseRobustnessLib.projection.rebinning import FanRebinner
from LowDoseRobustnessLib.reconstruction import get_reconstructor
from LowDoseRobustnessLib.simulation.attenuation import mu_to_hu
from LowDoseRobustnessLib.simulation.dose import check_dose_fraction
from LowDoseRobustnessLib.simulation.simulate import SimulationSettings, thin_measured_projections
from LowDoseRobustnessLib.volume import Volume

MAX_FAN_VIEWS = 1152
"""Default cap on the views per rotation of the rebinned sinograms (the astra backend's matrices grow with them)."""
VIEW_BUFFER_BYTES = 3 << 29
"""Memory (1.5 GiB) for the views of one block of slices: measured, thinned and the previous block's."""
VIEW_BUFFERS = 3
MIN_SLICES_PER_BLOCK = 8
EXTRAPOLATION_WARNING = 0.01


@dataclass(frozen=True)
class ReconstructionGrid:
    """Image grid for measured projections and the sampling of the rebinned fan sinograms.

    matrix: pixels per side; fov_mm: side of the square image (default: DataCollectionDiameter,
    else the measured fan's field of view); slice_mm: slice spacing (default: a detector row at
    the isocentre); z_range_mm: (first, last) slice heights (default: all the scan can give);
    fan_views: views per rotation of the rebinned sinograms (default: the scan's readings per
    rotation, flying-focal-spot positions included, up to :data:`MAX_FAN_VIEWS`, a multiple of 4;
    fewer views than readings average neighbouring readings).
    """

    matrix: int = 512
    fov_mm: Optional[float] = None
    slice_mm: Optional[float] = None
    z_range_mm: Optional[tuple[float, float]] = None
    fan_views: Optional[int] = None


@dataclass(frozen=True, eq=False)
class MeasuredReconstruction:
    """How a scan becomes volumes: its geometry, the target fan geometry, the slices and the output grid."""

    scan: ProjectionScan
    geometry: HelicalGeometry
    target: ScanGeometry
    slices_mm: np.ndarray
    pixel_mm: float
    matrix: int
    slice_mm: float

    def volume(self, array: np.ndarray) -> Volume:
        """``array [slice, y, x]`` on this grid: x, y of the scanner frame, z the table position (ascending)."""
        half = (self.matrix - 1) / 2 * self.pixel_mm
        return Volume(array, (self.pixel_mm, self.pixel_mm, self.slice_mm), (-half, -half, float(self.slices_mm[0])))


def plan_reconstruction(scan: ProjectionScan,
                        grid: ReconstructionGrid = ReconstructionGrid()) -> MeasuredReconstruction:
    """The target fan geometry and slices for ``scan`` on ``grid`` (defaults filled in from the scan)."""
    geometry = HelicalGeometry.from_scan(scan)
    detector = scan.detector
    if grid.matrix < 8:
        raise InputError(f"the image matrix must have at least 8 pixels per side, got {grid.matrix}")
    fov = grid.fov_mm or scan.data_collection_diameter_mm or 2 * geometry.field_of_view_radius_mm
    pixel = fov / grid.matrix
    iso_row_mm = detector.row_mm * geometry.source_isocenter_mm / detector.focal_center_to_detector_mm
    slice_mm = grid.slice_mm or iso_row_mm
    if not (fov > 0 and slice_mm > 0):
        raise InputError("the field of view and the slice spacing must be positive (mm)")
    views = grid.fan_views or 4 * max(1, round(min(scan.views_per_turn, MAX_FAN_VIEWS) / 4))
    target = ScanGeometry(source_isocenter_mm=geometry.source_isocenter_mm,
                          source_detector_mm=detector.focal_center_to_detector_mm, detector_columns=2,
                          detector_column_mm=detector.channel_mm, n_views=int(views), mode="fan")
    target = target.fitted_to((1, grid.matrix, grid.matrix), (pixel, pixel, slice_mm))
    low, high = FanRebinner(geometry, target).slice_range_mm()
    first, last = grid.z_range_mm or (low, high)
    if min(first, last) < low - 1e-6 or max(first, last) > high + 1e-6:
        raise InputError(f"slices from {first:.1f} to {last:.1f} mm: this scan can give {low:.1f} .. {high:.1f} mm")
    count = int(math.floor(abs(last - first) / slice_mm + 1e-9)) + 1
    start = min(first, last) + 0.5 * (abs(last - first) - (count - 1) * slice_mm)
    return MeasuredReconstruction(scan=scan, geometry=geometry, target=target,
                                  slices_mm=start + slice_mm * np.arange(count), pixel_mm=pixel, matrix=grid.matrix,
                                  slice_mm=slice_mm)


def view_seed(seed: int, view: int) -> int:
    """The seed of one view's random stream: independent across views, the same on every pass."""
    return int(np.random.SeedSequence([int(seed), int(view)]).generate_state(1)[0])


def thinned_line_integrals(scan: ProjectionScan, first: int, stop: int, dose_fraction: float, seed: int = 0,
                           method: str = "zabic", electronic_noise_sd: float = 0.0,
                           measured: Optional[np.ndarray] = None) -> np.ndarray:
    """Line integrals ``[view, row, channel]`` of views ``first .. stop - 1`` at dose ``dose_fraction``.

    d = 1 returns the measured data; otherwise each view is thinned with its photon statistics as I0.
    ``measured`` may pass those views' measured line integrals when already read.
    """
    if method not in THINNING_METHODS:
        raise InputError(f"thinning method must be one of {', '.join(THINNING_METHODS)}, got {method!r}")
    lines = scan.line_integrals(first, stop) if measured is None else measured
    if check_dose_fraction(dose_fraction) == 1.0:
        return lines
    out = np.empty_like(lines)
    for k, view in enumerate(range(first, stop)):
        out[k] = thin_measured_projections(lines[k], scan.photon_statistics[view][None, :], dose_fraction,
                                           seed=view_seed(seed, view), method=method,
                                           electronic_noise_sd=electronic_noise_sd)
    return out


def simulate_from_projections(scan: ProjectionScan | str | Path, dose_fractions: Sequence[float],
                              settings: SimulationSettings = SimulationSettings(), seed: int = 0,
                              grid: ReconstructionGrid = ReconstructionGrid(), thinning: str = "zabic",
                              include_reference: bool = True, progress: Optional[ProgressCallback] = None,
                              cancel: Optional[CancelCheck] = None) -> dict[float, Volume]:
    """Reconstructions in HU at each dose fraction, plus the measured 100 % under key 1.0 (``include_reference``).

    ``scan`` is a DICOM-CT-PD folder or a :class:`ProjectionScan`. ``settings`` gives the backend,
    the reconstruction and its options and the electronic noise (its geometry and incident flux do
    not apply: both come from the scan). Same seed, same output.
    """
    if not isinstance(scan, ProjectionScan):
        scan = read_projection_folder(scan, progress)
    doses = sorted({check_dose_fraction(d) for d in dose_fractions} | ({1.0} if include_reference else set()),
                   reverse=True)
    plan = plan_reconstruction(scan, grid)
    rebinner = FanRebinner(plan.geometry, plan.target)
    reconstruct = get_reconstructor(settings.reconstruction)
    uses_counts = getattr(reconstruct, "uses_counts", True)
    blocks = _slice_blocks(plan)
    steps = Progress(len(blocks) * len(doses), progress, cancel)
    out = {d: np.empty((len(plan.slices_mm), plan.matrix, plan.matrix), np.float32) for d in doses}
    measured, orientation, extrapolated = _ViewCache(scan), None, 0.0
    for block in blocks:
        heights = plan.slices_mm[block]
        first, stop = rebinner.view_range(heights)
        views = measured.read(first, stop)
        if block.start == 0:
            warn_if_other_directions_fit(scan, plan.target, views, first, float(heights[len(heights) // 2]))
        shape = (len(heights), plan.matrix, plan.matrix)
        projector = get_projector(settings.backend, plan.target, shape, (plan.pixel_mm, plan.pixel_mm, plan.slice_mm))
        orientation = orientation or image_orientation(projector, plan.target, shape, plan.pixel_mm)
        flux = np.broadcast_to(scan.photon_statistics[first:stop, None, :], views.shape) if uses_counts else None
        for dose in doses:
            thinned = thinned_line_integrals(scan, first, stop, dose, seed, thinning, settings.electronic_noise_sd,
                                             views)
            sinograms, fluxes, worst = _rebin(rebinner, heights, thinned, flux, first)
            extrapolated = max(extrapolated, worst)
            counts = None if fluxes is None else (np.float32(dose) * fluxes * np.exp(-sinograms)).astype(np.float32)
            mu = reconstruct(sinograms, projector, counts=counts, **settings.reconstruction_options)
            out[dose][block] = orientation.to_scanner(np.asarray(mu, np.float32))
            steps.step(f"reconstructed {dose:.0%} dose, slices {block.start + 1}-{block.stop} of {len(plan.slices_mm)}")
    if extrapolated > EXTRAPOLATION_WARNING:
        warnings.warn(f"up to {extrapolated:.1%} of the rays of a slice needed detector rows beyond the detector "
                      "(pitch too high for single-slice rebinning); the nearest rows were used")
    return {d: plan.volume(mu_to_hu(out[d], scan.water_attenuation_per_mm)) for d in doses}


def _rebin(rebinner: FanRebinner, heights, views: np.ndarray, flux: Optional[np.ndarray], first: int):
    """Sinograms ``[view, slice, column]`` at ``heights`` from ``views`` (the first is view ``first``), the
    rebinned flux when given, and the largest fraction of rays that needed extrapolated rows."""
    t = rebinner.target
    sinograms = np.empty((t.n_views, len(heights), t.detector_columns), np.float32)
    fluxes = None if flux is None else np.empty_like(sinograms)
    worst = 0.0
    for k, height in enumerate(heights):  # one plan at a time: a plan of a clinical scan takes ~0.2 GB
        plan = rebinner.plan(height)
        sinograms[:, k] = plan.apply(views[plan.first - first:plan.stop - first])
        if fluxes is not None:
            fluxes[:, k] = plan.apply(flux[plan.first - first:plan.stop - first], tilt=False)
        worst = max(worst, plan.extrapolated_fraction)
    return sinograms, fluxes, worst


class _ViewCache:
    """The measured views of the current block; views shared with the previous block are not read again."""

    def __init__(self, scan: ProjectionScan):
        self.scan, self.first, self.data = scan, 0, np.empty((0, scan.detector.rows, scan.detector.channels),
                                                             np.float32)

    def read(self, first: int, stop: int) -> np.ndarray:
        data = np.empty((stop - first, *self.data.shape[1:]), np.float32)
        keep_first, keep_stop = max(first, self.first), min(stop, self.first + len(self.data))
        if keep_first < keep_stop:
            data[keep_first - first:keep_stop - first] = self.data[keep_first - self.first:keep_stop - self.first]
            for a, b in ((first, keep_first), (keep_stop, stop)):
                if a < b:
                    data[a - first:b - first] = self.scan.line_integrals(a, b)
        else:
            data[:] = self.scan.line_integrals(first, stop)
        self.first, self.data = first, data
        return data


def _slice_blocks(plan: MeasuredReconstruction) -> list[slice]:
    """Consecutive slices grouped so that a block's views (measured and thinned) fit :data:`VIEW_BUFFER_BYTES`."""
    g, d = plan.geometry, plan.scan.detector
    budget_views = VIEW_BUFFER_BYTES / (d.rows * d.channels * 4 * VIEW_BUFFERS)
    feed = abs(g.table_feed_per_turn_mm)
    spare_turns = budget_views / g.views_per_turn - 1.2
    per_block = len(plan.slices_mm) if feed == 0 else int(spare_turns * feed / plan.slice_mm)
    per_block = min(len(plan.slices_mm), max(per_block, MIN_SLICES_PER_BLOCK))
    return [slice(k, min(k + per_block, len(plan.slices_mm))) for k in range(0, len(plan.slices_mm), per_block)]


def save_thinned_projections(scan: ProjectionScan, dose_fraction: float, output: str | Path, seed: int = 0,
                             thinning: str = "zabic", electronic_noise_sd: float = 0.0,
                             overwrite: bool = False) -> Path:
    """Write the thinned views of ``scan`` (the ones :func:`simulate_from_projections` reconstructs) as DICOM-CT-PD."""
    from LowDoseRobustnessLib.io.ctpd_writer import write_projection_folder

    dose = check_dose_fraction(dose_fraction)
    noise = f", electronic noise SD {electronic_noise_sd:g} counts" if electronic_noise_sd > 0 else ""
    description = (f"lowdose: {thinning} thinning of the measured counts to {dose:.0%} dose "
                   f"(photon statistics as I0), seed {seed}{noise}")
    return write_projection_folder(
        scan, output, dose,
        lambda first, stop: thinned_line_integrals(scan, first, stop, dose, seed, thinning, electronic_noise_sd),
        description, overwrite=overwrite)
