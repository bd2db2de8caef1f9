"""What the panel's text and switches mean: dose levels and the list of reconstructions (pure Python)."""
from __future__ import annotations

from typing import Iterable, Mapping

from LowDoseRobustnessLib.contract import RECONSTRUCTIONS
from LowDoseRobustnessLib.errors import InputError


def parse_doses(text: str, percent: bool = False) -> tuple[float, ...]:
    """``"20, 40 60%"`` or ``"0.2,0.4"`` -> (0.2, 0.4, 0.6): percentages when a value is above 1 or ``percent``."""
    values = []
    for part in text.replace("%", " ").replace(",", " ").replace(";", " ").split():
        try:
            value = float(part)
        except ValueError:
            raise InputError(f"dose {part!r} is not a number; give percentages such as 20 or 5, 10") from None
        values.append(value / 100.0 if percent or value > 1.0 else value)
    bad = [v for v in values if not 0.0 < v <= 1.0]
    if bad:
        raise InputError(f"doses must lie in (0, 100] %; got {', '.join(f'{100 * v:g} %' for v in bad)}")
    return tuple(values)


def selected_doses(checked_percent: Mapping[int, bool], other_percent: str = "") -> tuple[float, ...]:
    """Dose fractions from switches ``{20: True, 40: False}`` plus free text such as ``"5, 10"`` (percent)."""
    doses = {percent / 100.0 for percent, on in checked_percent.items() if on}
    doses |= set(parse_doses(other_percent or "", percent=True))
    return tuple(sorted(doses))


def parse_reconstructions(text: str) -> tuple[str, ...]:
    """``"fbp, cnn"`` -> ("fbp", "cnn"); each must be one of :data:`contract.RECONSTRUCTIONS`."""
    names = tuple(dict.fromkeys(part.strip() for part in text.replace(";", ",").split(",") if part.strip()))
    unknown = [name for name in names if name not in RECONSTRUCTIONS]
    if unknown:
        raise InputError(f"unknown reconstruction {', '.join(unknown)}; choose from {', '.join(RECONSTRUCTIONS)}")
    return names


def join_reconstructions(names: Iterable[str]) -> str:
    """The parameter text of a set of reconstructions, in the catalogue's order."""
    chosen = set(names)
    return ", ".join(name for name in RECONSTRUCTIONS if name in chosen)
