"""What defines a simulated acquisition and its reconstruction, and the projector it runs on."""
from __future__ import annotations

from dataclasses import dataclass, field

from LowDoseRobustnessLib.contract import (DEFAULT_INCIDENT_FLUX, GEOMETRIES, INCIDENT_FLUX_AUTO, INPUT_NOISE_MODELS,
                                           KERNELS, LOW_SIGNAL_CORRECTIONS, NOISE_MODES, valid_incident_flux)
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
    full dose, or ``"auto"`` (:data:`.contract.INCIDENT_FLUX_AUTO`: fitted to the input's noise). electronic_noise_sd: Gaussian detector noise in counts. reconstruction: a
    name from :data:`.contract.RECONSTRUCTIONS`, with ``reconstruction_options`` (the
    method's keyword arguments, e.g. ``{"filter_name": "hann"}`` or ``{"regularization": 2.0}``).
    kernel: the input's reconstruction kernel, which the added noise takes (:data:`.contract.KERNELS`).
    low_signal: the log of the counts (:data:`.contract.LOW_SIGNAL_CORRECTIONS`).
    input_noise: the noise the input holds (:data:`.contract.INPUT_NOISE_MODELS`).
    noise: where repeated realizations are drawn (:data:`.contract.NOISE_MODES`; ``image`` is used by
    :func:`.image_noise.simulate_realizations`, :func:`.simulate.simulate_dose_series` always works in projections).
    """

    geometry: ScanGeometry | str = "clinical"
    backend: str = "auto"
    incident_flux: float | str = INCIDENT_FLUX_AUTO
    electronic_noise_sd: float = 0.0
    reconstruction: str = "fbp"
    reconstruction_options: dict = field(default_factory=dict)
    mu_water_per_mm: float = MU_WATER_PER_MM
    kernel: str = "auto"
    low_signal: str = "corrected"
    input_noise: str = "measured"
    noise: str = "projection"

    def __post_init__(self):
        if not valid_incident_flux(self.incident_flux):
            raise InputError(f"the incident flux I0 must be a positive number of photons per detector pixel and view "
                             f"or {INCIDENT_FLUX_AUTO!r}, got {self.incident_flux!r}")
        for name, value, choices in (("kernel", self.kernel, KERNELS), ("low-signal correction", self.low_signal,
                                     LOW_SIGNAL_CORRECTIONS), ("input noise", self.input_noise, INPUT_NOISE_MODELS),
                                     ("noise mode", self.noise, NOISE_MODES)):
            if value not in choices:
                raise InputError(f"{name} must be one of {', '.join(choices)}, got {value!r}")

    def scan_geometry(self, volume: Volume) -> ScanGeometry:
        """The geometry for ``volume``: the preset or given geometry, detector fitted to the volume."""
        geometry = self.geometry
        if isinstance(geometry, str):
            geometry = GEOMETRIES.load(geometry)()
        return geometry.fitted_to(volume.array.shape, volume.spacing)

    @property
    def fitted_flux(self) -> bool:
        """Whether I0 is fitted to the input's noise (``"auto"``)."""
        return self.incident_flux == INCIDENT_FLUX_AUTO

    @property
    def trial_incident_flux(self) -> float:
        """The given I0, or :data:`.contract.DEFAULT_INCIDENT_FLUX` when it is to be fitted (the fit's trial I0)."""
        return DEFAULT_INCIDENT_FLUX if self.fitted_flux else float(self.incident_flux)

    @property
    def fbp_filter(self) -> str:
        """The ramp-filter window of the FBP step (FBP itself and FBP-based methods)."""
        return self.reconstruction_options.get("filter_name", "ram-lak")


def make_projector(volume: Volume, settings: SimulationSettings) -> Projector:
    """The projector for the volume's grid (built once; reuse it for every dose level)."""
    return get_projector(settings.backend, settings.scan_geometry(volume), volume.array.shape, volume.spacing)
