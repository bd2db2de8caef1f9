"""The first check of every command: its numbers, before any file is read (standard library only).

Rules are by option name, so every command that has an option gets the same check:
impossible values are an :class:`InputError` naming the option, implausible but legal ones
(a dose below 1 %) a warning.
"""
from __future__ import annotations

import math
import warnings

from LowDoseRobustnessLib.contract import INCIDENT_FLUX_AUTO, valid_incident_flux
from LowDoseRobustnessLib.errors import InputError

LOW_DOSE_WARNING = 0.01
"""Below 1 % of the full dose the counts of most rays are a few photons: legal, rarely meant."""


def _whole_at_least(minimum: int):
    return lambda v: isinstance(v, int) and v >= minimum, f"a whole number of at least {minimum}"


def _finite(low: float, high: float = math.inf, low_open: bool = False):
    def test(v) -> bool:
        return math.isfinite(v) and (v > low if low_open else v >= low) and v <= high
    bounds = f"{'>' if low_open else '>='} {low:g}" + ("" if high == math.inf else f" and <= {high:g}")
    return test, f"a finite number {bounds}"


def incident_flux(text: str):
    """The type of ``--incident-flux``: ``auto`` (fitted to the input's noise) or photons per detector pixel and view."""
    return INCIDENT_FLUX_AUTO if text.strip().lower() == INCIDENT_FLUX_AUTO else float(text)


RULES = {
    # option attribute -> (test of one value, what it must be)
    "seed": _whole_at_least(0),
    "count": _whole_at_least(1),
    "iterations": _whole_at_least(1),
    "realizations": _whole_at_least(1),
    "workers": _whole_at_least(0),
    "threads": _whole_at_least(1),
    "dose": (_finite(0.0, 1.0, low_open=True)[0], "a dose fraction in (0, 1], e.g. 0.2 for 20 % of the full dose"),
    "incident_flux": (valid_incident_flux, f"{INCIDENT_FLUX_AUTO} or a finite number > 0"),
    "electronic_noise": _finite(0.0),
    "regularization": _finite(0.0, low_open=True),
    "surface_tolerance_mm": _finite(0.0, low_open=True),
    "failure_dice": _finite(0.0, 1.0),
    "drop_probability": _finite(0.0, 1.0),
    "rotation_max_deg": _finite(0.0, 180.0),
    "intensity_shift_hu": _finite(0.0),
    "window_quantiles": _finite(0.0, 1.0),
}


def check_arguments(arguments) -> None:
    """Refuse impossible option values of a parsed command line; warn about a dose below 1 %."""
    for name, (test, requirement) in RULES.items():
        for value in _values(getattr(arguments, name, None)):
            if name == "dose" and isinstance(value, float) and math.isnan(value):
                continue  # `compare --dose` is an optional tag
            if not test(value):
                raise InputError(f"--{name.replace('_', '-')} must be {requirement}, got {value!r}")
    for dose in _values(getattr(arguments, "dose", None)):
        if dose < LOW_DOSE_WARNING:
            warnings.warn(f"--dose {dose:g} is {dose:.2%} of the full dose: almost all rays get only a few photons "
                          "and the image is mostly noise (did you mean a fraction such as 0.2 for 20 %?)",
                          stacklevel=2)
    quantiles = getattr(arguments, "window_quantiles", None)
    if quantiles and not quantiles[0] < quantiles[1]:
        raise InputError(f"--window-quantiles LOW HIGH needs LOW < HIGH, got {quantiles[0]:g} {quantiles[1]:g}")


def _values(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
