"""Fast image-domain noise realizations learnt from a few projection-domain ones.

Divel & Pelc (2020) and Peng et al. (2023, sec. 2.2.1): a few realizations of a scan from the
projection-domain simulator (:func:`.simulate.simulate_dose_series` with different seeds) give,
per dose level, the mean image and noise-only samples (:mod:`.noise_statistics`): a local SD
map and local noise power spectra on overlapping in-plane patches. A further realization is
the mean plus white Gaussian noise filtered by the local NPS and scaled by the local SD:

    n(x) = sigma(x) sqrt(1 - 1/K) sum_b c_b(x) (psi_b * w)(x),   w white, unit variance,

where the patches' filters sqrt(S_p) are written in an orthonormal basis psi_b (their leading
singular vectors), c_b(x) are the patch coefficients interpolated between patch centres and
normalised to unit variance at every voxel (so overlapping patches blend smoothly, as Peng et
al.'s trapezoid-weighted patches). The mean of K training realizations keeps 1/K of one
realization's noise variance; the factor sqrt(1 - 1/K) leaves each output with exactly one
realization's noise (two outputs share that 1/K part: correlation 1/K).

For FBP the projection-domain noise is Gaussian and linear in the inserted line-integral
noise, so first and second moments are all there is; for nonlinear reconstructions (iterative,
CNN, NLM) the model reproduces the local SD and NPS but not signal-dependent texture.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np
import scipy.fft
from scipy.ndimage import map_coordinates

from LowDoseRobustnessLib.errors import Cancelled, InputError
from LowDoseRobustnessLib.io.atomic import atomic_output
from LowDoseRobustnessLib.progress import CancelCheck, ProgressCallback
from LowDoseRobustnessLib.projection import Projector
from LowDoseRobustnessLib.simulation.dose import check_dose_fraction
from LowDoseRobustnessLib.simulation.noise_statistics import NoiseStatistics, PatchGrid, helmert_contrast
from LowDoseRobustnessLib.simulation.simulate import SimulationSettings, make_projector, simulate_dose_series
from LowDoseRobustnessLib.volume import Volume

DEFAULT_TRAINING_REALIZATIONS = 4
"""Projection-domain realizations a model is learnt from (K); outputs share 1/K of their noise variance."""
MAX_FILTERS = 6
"""At most this many basis filters (each costs one inverse FFT per draw)."""
FILTER_ENERGY = 0.999
"""Basis filters are added until they hold this fraction of the patch filters' (SD-weighted) energy."""
BLOCK_VOXELS = 2 ** 20
"""Voxels filtered at once (whole slices, at least one): bounds a draw's temporaries (about 80 bytes per voxel
of a block: each basis filter's spectrum, filtered slice and coefficient map)."""
WRAP_MARGIN_PX = 8
"""Noise is synthesised on a slice padded by at least this (to a fast FFT size), so it does not wrap across edges."""
FORMAT_VERSION = 1
TRAINING_STREAM = 20240
"""Mixed into the model seed for the training realizations' seeds (apart from the draws' streams)."""


@dataclass(frozen=True, eq=False)
class ImageNoiseModel:
    """What is needed to draw image-domain realizations of one scan at its dose levels (HU).

    Per dose, each learnt from that dose's training realizations alone: ``mean_hu`` (their mean),
    ``sd_hu`` (one realization's local noise SD), ``filters`` (orthonormal basis filters on the
    padded slice's rfft2 grid), ``coefficients`` (basis weights per slab x patch row x patch column)
    and ``axial_correlation`` (noise correlation at slice lags 0, 1, ...). Shared: the patch and slab
    centres ``centres``.
    """

    doses: tuple[float, ...]
    training_realizations: int
    mean_hu: tuple[np.ndarray, ...]
    sd_hu: tuple[np.ndarray, ...]
    coefficients: tuple[np.ndarray, ...]
    axial_correlation: tuple[np.ndarray, ...]
    filters: tuple[np.ndarray, ...]
    centres: tuple[np.ndarray, np.ndarray, np.ndarray]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...]
    _slab_maps: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def _index(self, dose_fraction: float) -> int:
        dose = check_dose_fraction(dose_fraction)
        matches = [i for i, d in enumerate(self.doses) if abs(d - dose) < 1e-9]
        if not matches:
            raise InputError(f"the image-noise model was learnt for doses {', '.join(f'{d:g}' for d in self.doses)}, "
                             f"not {dose:g}; learn it again with this dose")
        return matches[0]

    def noise(self, dose_fraction: float, seed: int) -> np.ndarray:
        """One image-domain noise realization ``[z, y, x]`` in HU at a dose level; same seed, same noise."""
        i = self._index(dose_fraction)
        rng = np.random.default_rng([int(seed), int(round(self.doses[i] * 1_000_000)), 1])
        shape = self.mean_hu[i].shape
        padded = (shape[0], self.filters[i].shape[1], 2 * (self.filters[i].shape[2] - 1))
        spectrum = _axially_correlated(_white_spectrum(rng, padded), self.axial_correlation[i])
        noise = np.empty(shape, np.float32)
        slices = max(1, BLOCK_VOXELS // (shape[1] * shape[2]))
        for start in range(0, shape[0], slices):
            block = slice(start, min(start + slices, shape[0]))
            noise[block] = self._filtered(spectrum[block], i, block)
        return noise

    def realization(self, dose_fraction: float, seed: int) -> Volume:
        """Mean image plus :meth:`noise`: a simulated dose-``d`` scan in HU on the training grid."""
        mean = self.mean_hu[self._index(dose_fraction)]
        return self.realization_grid().with_array(mean + self.noise(dose_fraction, seed))

    def realization_grid(self) -> Volume:
        """The grid the model draws on (holding the first dose's mean image)."""
        return Volume(self.mean_hu[0], self.spacing, self.origin, self.direction)

    def _filtered(self, spectrum: np.ndarray, index: int, block: slice) -> np.ndarray:
        """sigma(x) sqrt(1 - 1/K) sum_b c_b(x) (psi_b * w)(x) for white noise w given by its rfft2 ``spectrum``."""
        nz, ny, nx = self.mean_hu[index].shape
        lower, upper, fraction = _bracket(np.arange(nz)[block], self.centres[0])
        slabs = self._coefficient_maps(index)
        maps = slabs[:, lower]
        maps *= (1 - fraction)[:, None, None]
        maps += slabs[:, upper] * fraction[:, None, None]
        norm = np.maximum(np.einsum("bzyx,bzyx->zyx", maps, maps), 1e-12)
        scale = np.sqrt((1.0 - 1.0 / self.training_realizations) / norm)
        filters = self.filters[index]
        padded = (filters.shape[1], 2 * (filters.shape[2] - 1))
        filtered = scipy.fft.irfft2(spectrum[None] * filters[:, None], s=padded, workers=-1,
                                    overwrite_x=True)[..., :ny, :nx]
        out = np.einsum("bzyx,bzyx->zyx", maps, filtered)
        out *= scale
        out *= self.sd_hu[index][block]
        return out

    def _coefficient_maps(self, index: int) -> np.ndarray:
        """Basis coefficients per slab interpolated in-plane to every voxel, (filters, slabs, y, x); kept once made."""
        if index not in self._slab_maps:
            _, ny, nx = self.mean_hu[index].shape
            y, x = _hat_weights(np.arange(ny), self.centres[1]), _hat_weights(np.arange(nx), self.centres[2])
            self._slab_maps[index] = np.einsum("bspq,yp,xq->bsyx", self.coefficients[index], y, x,
                                               optimize=True).astype(np.float32)
        return self._slab_maps[index]

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the model to one ``.npz`` file (atomically); :meth:`load` reads it back."""
        arrays = dict(format_version=FORMAT_VERSION, doses=np.asarray(self.doses),
                      training_realizations=self.training_realizations,
                      centre_z=self.centres[0], centre_y=self.centres[1], centre_x=self.centres[2],
                      spacing=np.asarray(self.spacing), origin=np.asarray(self.origin),
                      direction=np.asarray(self.direction))
        for i in range(len(self.doses)):
            arrays.update({f"mean_hu_{i}": self.mean_hu[i], f"sd_hu_{i}": self.sd_hu[i],
                           f"filters_{i}": self.filters[i], f"coefficients_{i}": self.coefficients[i],
                           f"axial_correlation_{i}": self.axial_correlation[i]})
        with atomic_output(path, overwrite) as temporary:
            with open(temporary, "wb") as file:
                np.savez(file, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> "ImageNoiseModel":
        """A model written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise InputError(f"cannot read an image-noise model from {path}: {error}") from None
        version = int(arrays.get("format_version", -1))
        if version != FORMAT_VERSION:
            raise InputError(f"{path} is not an image-noise model of format {FORMAT_VERSION} (found {version}); "
                             "learn the model again")
        count = len(arrays["doses"])
        per_dose = {name: tuple(arrays[f"{name}_{i}"] for i in range(count))
                    for name in ("mean_hu", "sd_hu", "filters", "coefficients", "axial_correlation")}
        return cls(tuple(float(d) for d in arrays["doses"]), int(arrays["training_realizations"]),
                   centres=(arrays["centre_z"], arrays["centre_y"], arrays["centre_x"]),
                   spacing=tuple(arrays["spacing"]), origin=tuple(arrays["origin"]),
                   direction=tuple(arrays["direction"]), **per_dose)


def fit_image_noise_model(realizations: Iterable[Mapping[float, Volume]],
                          max_filters: int = MAX_FILTERS) -> ImageNoiseModel:
    """The image-noise model of K >= 2 independent dose series of one scan (dose -> Volume in HU).

    The series are consumed one at a time (a generator of :func:`.simulate.simulate_dose_series`
    calls keeps one series and running sums in memory). Every series must hold the same doses on one grid.
    """
    sums, statistics, count, grid = {}, {}, 0, None
    for series in realizations:
        if grid is None:
            first = series[max(series)]
            grid = Volume(np.broadcast_to(np.float32(0), first.array.shape), first.spacing, first.origin,
                          first.direction)
            patches = PatchGrid.for_volume(grid.array.shape, grid.spacing)
            statistics = {d: NoiseStatistics(patches, grid.array.shape) for d in series}
        if set(series) != set(statistics) or any(not v.same_grid(grid) for v in series.values()):
            raise InputError("all training realizations must hold the same dose levels on the same grid")
        for dose, volume in series.items():
            if count:
                statistics[dose].add(helmert_contrast(sums[dose], volume.array, count))
                sums[dose] += volume.array
            else:
                sums[dose] = np.array(volume.array, np.float32)
        count += 1
        del series, volume  # the next realization is simulated while this one is no longer held
    if count < 2:
        raise InputError("an image-noise model needs at least 2 training realizations")
    doses = tuple(sorted(statistics))
    if not any(np.any(statistics[d].patch_sd()) for d in doses):
        raise InputError("the training realizations do not differ: there is no noise to learn")
    bases = [_filter_basis(statistics[d].nps_shapes(), statistics[d].patch_sd(), grid.array.shape[1:], max_filters)
             for d in doses]
    for dose in doses:
        sums[dose] /= np.float32(count)
    return ImageNoiseModel(
        doses=doses, training_realizations=count, mean_hu=tuple(sums[d] for d in doses),
        sd_hu=tuple(statistics[d].local_sd(grid.spacing) for d in doses),
        coefficients=tuple(b[1] for b in bases), axial_correlation=tuple(statistics[d].axial_correlation() for d in doses),
        filters=tuple(b[0] for b in bases), centres=tuple(patches.centres(axis) for axis in range(3)),
        spacing=grid.spacing, origin=grid.origin, direction=grid.direction)


def train_image_noise_model(volume: Volume, dose_fractions: Sequence[float], settings: SimulationSettings,
                            seed: int = 0, training_realizations: int = DEFAULT_TRAINING_REALIZATIONS,
                            projector: Optional[Projector] = None, progress: Optional[ProgressCallback] = None,
                            cancel: Optional[CancelCheck] = None) -> ImageNoiseModel:
    """The projection-domain work, once: the model of ``volume`` from ``training_realizations`` dose series.

    The training seeds are derived from ``seed`` (reproducible, independent of any draw's seed);
    a dose's training noise does not depend on the other doses asked for (one stream per dose).
    """
    if training_realizations < 2:
        raise InputError("an image-noise model needs at least 2 training realizations")
    projector = projector or make_projector(volume, settings)
    projection_settings = replace(settings, noise="projection")
    seeds = np.random.SeedSequence([int(seed), TRAINING_STREAM]).generate_state(training_realizations)

    def series():
        for k, training_seed in enumerate(seeds):
            prefix = f"image-noise model, realization {k + 1}/{training_realizations}: "
            yield simulate_dose_series(volume, dose_fractions, projection_settings, int(training_seed), projector,
                                       progress=_part(progress, k, training_realizations, prefix), cancel=cancel)

    return fit_image_noise_model(series())


def simulate_realizations(volume: Volume, dose_fractions: Sequence[float], settings: SimulationSettings,
                          seeds: Sequence[int], projector: Optional[Projector] = None,
                          model: Optional[ImageNoiseModel] = None, model_seed: int = 0,
                          training_realizations: int = DEFAULT_TRAINING_REALIZATIONS,
                          progress: Optional[ProgressCallback] = None,
                          cancel: Optional[CancelCheck] = None) -> list[dict[float, Volume]]:
    """One dose series per seed ({dose: Volume in HU}, the 100 % reference under 1.0), in ``settings.noise`` mode.

    ``"projection"``: :func:`.simulate.simulate_dose_series` for every seed. ``"image"``: the
    projection-domain work once (:func:`train_image_noise_model` with ``model_seed``, unless a
    ``model`` is given), then one image-domain draw per seed and dose.
    """
    doses = sorted({check_dose_fraction(d) for d in dose_fractions} | {1.0}, reverse=True)
    if settings.noise == "projection":
        projector = projector or make_projector(volume, settings)
        return [simulate_dose_series(volume, doses, settings, seed, projector,
                                     progress=_part(progress, k, len(seeds)), cancel=cancel)
                for k, seed in enumerate(seeds)]
    training = model is None
    if training:
        model = train_image_noise_model(volume, doses, settings, model_seed, training_realizations, projector,
                                        _part(progress, 0, len(seeds) + 1), cancel)
    elif not model.realization_grid().same_grid(volume):
        raise InputError("the image-noise model was learnt on another grid than this volume's; learn it on this volume")
    outputs = []
    for k, seed in enumerate(seeds, start=training):
        if cancel is not None and cancel():
            raise Cancelled("cancelled by the user")
        outputs.append({dose: model.realization(dose, seed) for dose in doses})
        if progress is not None:
            progress((k + 1) / (len(seeds) + training), f"image-domain realization {len(outputs)}/{len(seeds)}")
    return outputs


def _part(progress: Optional[ProgressCallback], index: int, count: int, prefix: str = "") -> Optional[ProgressCallback]:
    """The progress callback of part ``index`` of ``count`` equal parts of a computation, messages prefixed."""
    if progress is None:
        return None
    return lambda fraction, message: progress((index + fraction) / count, prefix + message)


def _filter_basis(shapes: np.ndarray, patch_sd: np.ndarray, slice_shape: tuple[int, int],
                  max_filters: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal basis filters on the (padded) slice's rfft2 grid and their coefficients per patch, of one dose.

    The patch filters sqrt(S_p) (one row per slab x patch), each weighted by its patch's noise SD
    (so the basis minimises the error in noise power, not in quiet air), are reduced to their
    leading right singular vectors, which are interpolated from the patch's frequency grid to the
    slice's and orthonormalised there (unit-variance output for white input: Parseval, with the
    rfft's doubled columns). A dose without noise gets one white filter and zero coefficients.
    """
    patch = shapes.shape[-1]
    ny, nx = _padded_size(slice_shape[0]), _padded_size(slice_shape[1], even=True)
    if not np.any(patch_sd):
        return np.ones((1, ny, nx // 2 + 1), np.float32), np.zeros((1,) + shapes.shape[:3], np.float32)
    unweighted = np.sqrt(shapes).reshape(-1, patch * patch)
    rows = unweighted * (patch_sd.ravel() / patch_sd.mean())[:, None]
    singular, vectors = _leading_singular_vectors(rows, max_filters)
    energy = np.cumsum(singular ** 2) / np.sum(np.square(rows))
    count = min(max_filters, int(np.searchsorted(energy, FILTER_ENERGY)) + 1)
    vectors = vectors[:count]
    fy = np.fft.fftfreq(ny)[:, None] * patch % patch
    fx = np.fft.rfftfreq(nx)[None, :] * patch % patch
    coordinates = np.broadcast_arrays(fy, fx)
    upsampled = np.stack([map_coordinates(v.reshape(patch, patch), coordinates, order=1, mode="grid-wrap")
                          for v in vectors])
    columns = np.full(upsampled.shape[-1], 2.0)
    columns[[0, -1]] = 1.0  # frequency 0 and Nyquist (the width is even) stand once in the full spectrum
    gram = np.einsum("byx,cyx,x->bc", upsampled, upsampled, columns) / (ny * nx)
    lower = np.linalg.cholesky(gram)
    filters = np.linalg.solve(lower, upsampled.reshape(count, -1)).reshape(upsampled.shape).astype(np.float32)
    coefficients = (unweighted @ vectors.T @ lower).T.reshape((count,) + shapes.shape[:3])
    return filters, coefficients.astype(np.float32)


def _padded_size(pixels: int, even: bool = False) -> int:
    """A fast FFT length of at least ``pixels`` + :data:`WRAP_MARGIN_PX`; even where the rfft's width must be
    recoverable from its number of columns (2 (columns - 1))."""
    size = scipy.fft.next_fast_len(pixels + WRAP_MARGIN_PX, real=True)
    while even and size % 2:
        size = scipy.fft.next_fast_len(size + 1, real=True)
    return size


def _leading_singular_vectors(rows: np.ndarray, count: int, power_iterations: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` largest singular values and right singular vectors of ``rows``.

    Randomised range finder with power iterations (Halko et al. 2011, alg. 4.4), seeded: exact to
    working precision here, where the singular values fall fast, and cheap for many large patches.
    """
    rows = rows.astype(np.float64)
    width = min(count + 8, *rows.shape)
    basis = np.linalg.qr(rows @ np.random.default_rng(0).standard_normal((rows.shape[1], width)))[0]
    for _ in range(power_iterations):
        basis = np.linalg.qr(rows @ np.linalg.qr(rows.T @ basis)[0])[0]
    _, singular, vectors = np.linalg.svd(basis.T @ rows, full_matrices=False)
    return singular[:count], vectors[:count]


def _bracket(positions: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For linear interpolation between ``centres``: lower and upper neighbour and the fraction towards the upper.

    Positions beyond the outermost centres take that centre's value.
    """
    if centres.size == 1:
        zeros = np.zeros(positions.size, int)
        return zeros, zeros, np.zeros(positions.size, np.float32)
    clipped = np.clip(positions, centres[0], centres[-1])
    upper = np.clip(np.searchsorted(centres, clipped, side="right"), 1, centres.size - 1)
    fraction = (clipped - centres[upper - 1]) / (centres[upper] - centres[upper - 1])
    return upper - 1, upper, fraction.astype(np.float32)


def _hat_weights(positions: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Linear-interpolation weights as a matrix (positions x centres)."""
    lower, upper, fraction = _bracket(positions, centres)
    weights = np.zeros((positions.size, centres.size), np.float32)
    rows = np.arange(positions.size)
    weights[rows, lower] += 1.0 - fraction
    weights[rows, upper] += fraction
    return weights


def _white_spectrum(rng: np.random.Generator, shape: tuple[int, int, int]) -> np.ndarray:
    """rfft2 (per slice) of unit-variance white noise ``shape``, drawn directly in the frequency domain.

    Bins are complex Gaussian with E|W|^2 = Nx Ny; the columns the inverse transform takes the
    Hermitian part of (frequency 0 and Nyquist) get sqrt(2), so the inverse is exactly white.
    """
    nz, ny, nx = shape
    parts = rng.standard_normal((nz, ny, nx // 2 + 1, 2), dtype=np.float32)
    spectrum = parts.view(np.complex64)[..., 0]
    spectrum *= np.float32(np.sqrt(ny * nx / 2.0))
    spectrum[..., 0] *= np.float32(np.sqrt(2.0))
    if nx % 2 == 0:
        spectrum[..., -1] *= np.float32(np.sqrt(2.0))
    return spectrum


def _axially_correlated(spectrum: np.ndarray, correlation: np.ndarray) -> np.ndarray:
    """White noise (as its per-slice ``spectrum``) given the measured correlation between slices; unchanged if none."""
    if not np.any(correlation[1:]):
        return spectrum
    nz = spectrum.shape[0]
    lags = np.arange(1, correlation.size)
    axial = 1.0 + 2.0 * np.cos(2 * np.pi * np.fft.fftfreq(nz)[:, None] * lags[None, :]) @ correlation[1:]
    axial = np.maximum(axial, 0.0)
    axial /= axial.mean()
    filtered = scipy.fft.ifft(scipy.fft.fft(spectrum, axis=0, workers=-1) * np.sqrt(axial)[:, None, None],
                              axis=0, workers=-1)
    return filtered.astype(np.complex64)
