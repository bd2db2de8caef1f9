"""What defines a simulated acquisition and its reconstruction, and the projector it runs on."""
from __future__ import annotations

from dataclasses import dataclass, field

from LowDoseRobustnessLib.contract import (DEFAULT_INCIDENT_FLUX, GEOMETRIES, INPUT_NOISE_MODELS, KERNELS,
                                           LOW_SIGNAL_CORRECTIONS)
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.projection import Projector, get_projector
from LowDoseRobustnessLib.projection.geometry import ScanGeometry
from LowDoseRobustnessLib.simulation.attenuation import MU_WATER_PER_MM
from LowDoseRobustnessLib.volume import Volume


@dataclass(frozen=True)
class SimulationSettings:
    """Everything that defines a simulated acquisition and its reconstruction.

    geometry: a :class:`ScanGeometry` or a preset name ("clinical", "fast"); its detector is
    widened to cover the volume. incident_flux: I0, photons per detector pixel and view at
    full dose. electronic_noise_sd: Gaussian detector noise in counts. reconstruction: a
    name from :data:`.contract.RECONSTRUCTIONS`, with ``reconstruction_options`` (the
    method's keyword arguments, e.g. ``{"filter_name": "hann"}`` or ``{"regularization": 2.0}``).
    kernel: the input's reconstruction kernel, which the added noise takes (:data:`.contract.KERNELS`).
    low_signal: the log of the counts (:data:`.contract.LOW_SIGNAL_CORRECTIONS`).
    input_noise: the noise the input holds (:data:`.contract.INPUT_NOISE_MODELS`).
    """

    geometry: ScanGeometry | str = "clinical"
    backend: str = "auto"
    incident_flux: float = DEFAULT_INCIDENT_FLUX
    electronic_noise_sd: float = 0.0
    reconstruction: str = "fbp"
    reconstruction_options: dict = field(default_factory=dict)
    mu_water_per_mm: float = MU_WATER_PER_MM
    kernel: str = "auto"
    low_signal: str = "corrected"
    input_noise: str = "measured"

    def __post_init__(self):
        for name, value, choices in (("kernel", self.kernel, KERNELS), ("low-signal correction", self.low_signal,
                                     LOW_SIGNAL_CORRECTIONS), ("input noise", self.input_noise, INPUT_NOISE_MODELS)):
            if value not in choices:
                raise InputError(f"{name} must be one of {', '.join(choices)}, got {value!r}")

    def scan_geometry(self, volume: Volume) -> ScanGeometry:
        """The geometry for ``volume``: the preset or given geometry, detector fitted to the volume."""
        geometry = self.geometry
        if isinstance(geometry, str):
            geometry = GEOMETRIES.load(geometry)()
        return geometry.fitted_to(volume.array.shape, volume.spacing)

    @property
    def fbp_filter(self) -> str:
        """The ramp-filter window of the FBP step (FBP itself and FBP-based methods)."""
        return self.reconstruction_options.get("filter_name", "ram-lak")


def make_projector(volume: Volume, settings: SimulationSettings) -> Projector:
    """The projector for the volume's grid (built once; reuse it for every dose level)."""
    return get_projector(settings.backend, settings.scan_geometry(volume), volume.array.shape, volume.spacing)
