"""The Python packages the modules install into Slicer: the one list, and an installer that asks first.

Slicer's Python has numpy, scipy, SimpleITK and vtk (:data:`BUNDLED`). What the ``lowdose`` commands
the modules run (``study``, ``synth``) and the in-scene comparison need beyond them is listed here,
once, by what needs it (:data:`CORE`, :data:`BY_CHOICE`); version ranges as in ``pyproject.toml``
(a test keeps the two equal), because Slicer 5.4 to current ship Python 3.9 to 3.12 and no one
version of pandas or pyarrow has wheels for all of them. What pip brings along with these packages
is part of what the installer installs (the dependency test builds exactly that environment).

:func:`ensure` installs nothing without ``confirm(message)``. torch, when absent, comes first as
the CPU build from PyTorch's index; a torch Slicer already has (e.g. from the PyTorch extension) is
never touched. The rest is installed in one pip run under a constraints file that pins every
distribution already in Slicer's Python to its version, so pip can add packages but never upgrade,
downgrade or replace one of Slicer's own; when it cannot, pip fails and nothing changes (as
SlicerTotalSegmentator protects Slicer's torch and SimpleITK).
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

BUNDLED = ("numpy", "scipy", "SimpleITK", "vtk")
"""What Slicer's own Python provides (never installed or changed by the modules)."""
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


@dataclass(frozen=True)
class Package:
    """A distribution to install: its PyPI name, version range, import name, and what it is for."""

    distribution: str
    specifier: str
    module: str
    why: str

    @property
    def requirement(self) -> str:
        return f"{self.distribution}{self.specifier}"


TORCH = Package("torch", ">=2.2", "torch", "simulation, reconstruction and the built-in model (CPU build)")
ASTRA = Package("astra-toolbox", ">=2.5", "astra", "fan-beam projector (CPU)")
PANDAS = Package("pandas", ">=2.0", "pandas", "results tables and metrics")
CORE = (TORCH, ASTRA, PANDAS,
        Package("pyarrow", ">=14", "pyarrow", "results.parquet"),
        Package("matplotlib", ">=3.7", "matplotlib", "the study report's figures"),
        Package("psutil", ">=5.9", "psutil", "memory checks before large computations"))
"""What ``lowdose study`` needs with the built-in model and the fbp, iterative or cnn reconstruction."""
BY_CHOICE = {
    "nlm": (Package("scikit-image", ">=0.21", "skimage", "non-local-means denoising (reconstruction nlm)"),
            Package("PyWavelets", ">=1.4", "pywt", "the noise estimate of non-local means (scikit-image's)")),
    "mbirjax": (Package("mbirjax", ">=0.7.3", "mbirjax", "mbirjax projector (cone beam, MBIR)"),),
    "totalsegmentator": (Package("TotalSegmentator", ">=2.4", "totalsegmentator", "TotalSegmentator models"),),
    "nnunet": (Package("nnunetv2", ">=2.5", "nnunetv2", "nnU-Net v2 models"),),
    "monai": (Package("monai", ">=1.4", "monai", "MONAI networks"),),
}
"""Extras by the choice that needs them: a reconstruction, a projector backend or a model family."""


def study_packages(model: str = "builtin", reconstructions: Iterable[str] = ("fbp",),
                   backend: str = "auto") -> list[Package]:
    """What ``lowdose study`` needs for this model spec (``kind[:ARGUMENT]``), reconstructions and backend."""
    family = str(model).split(":", 1)[0].strip().lower()
    choices = [*reconstructions, backend, family]
    return list(dict.fromkeys([*CORE, *(p for choice in choices for p in BY_CHOICE.get(choice, ()))]))


def synth_packages(noise: bool = True) -> list[Package]:
    """What ``lowdose synth`` needs: the CT simulator's packages when it adds noise, else nothing beyond Slicer's."""
    return [TORCH, ASTRA] if noise else []


COMPARISON_PACKAGES = (TORCH, PANDAS)
"""What the comparison of two segmentations in the scene needs (it runs the Lib's metrics in Slicer's process)."""


def missing(packages: Sequence[Package]) -> list[Package]:
    """The packages that cannot be imported here (checked without importing them)."""
    return [p for p in packages if importlib.util.find_spec(p.module) is None]


_VERSION = re.compile(r"^[0-9][0-9A-Za-z.+!_-]*$")


def installed_constraints() -> str:
    """A pip constraints file pinning every installed distribution to its version (Slicer's own included)."""
    pins = {}
    for distribution in importlib.metadata.distributions():
        name, version = distribution.metadata["Name"], distribution.version
        if name and version and _VERSION.match(version):
            pins[name.lower()] = f"{name}=={version}"
    return "\n".join(pins[key] for key in sorted(pins)) + "\n"


def install_commands(packages: Sequence[Package], constraints: Path) -> list[list[str]]:
    """The ``pip install`` argument lists: torch (CPU build) first when it is to be installed, then the rest."""
    commands = []
    torch = [p for p in packages if p.distribution == TORCH.distribution]
    if torch:
        commands.append([torch[0].requirement, "--index-url", TORCH_CPU_INDEX, "-c", str(constraints)])
    rest = [p.requirement for p in packages if p.distribution != TORCH.distribution]
    if rest:
        commands.append([*rest, "-c", str(constraints)])
    return commands


def ensure(packages: Sequence[Package], confirm: Callable[[str], bool], pip_install: Callable[[list[str]], None],
           log: Optional[Callable[[str], None]] = None) -> bool:
    """Install the missing ``packages`` after the user agreed (``pip_install``: ``slicer.util.pip_install``).

    Returns False when the user declined; raises :class:`RuntimeError` when a package is still
    missing afterwards.
    """
    absent = missing(packages)
    if not absent:
        return True
    lines = "\n".join(f"  {p.distribution}  ({p.why})" for p in absent)
    if not confirm(f"These Python packages are not installed in Slicer:\n{lines}\n\nInstall them now? This needs an "
                   "internet connection and may take several minutes. Packages Slicer already has are not changed."):
        return False
    with tempfile.TemporaryDirectory(prefix="lowdose-pip-") as folder:
        constraints = Path(folder) / "constraints.txt"
        constraints.write_text(installed_constraints(), encoding="utf-8")
        for command in install_commands(absent, constraints):
            if log:
                log("pip install " + " ".join(command))
            pip_install(command)
    importlib.invalidate_caches()
    still = missing(absent)
    if still:
        raise RuntimeError("could not install " + ", ".join(p.distribution for p in still) +
                           "; see the Python console for pip's messages")
    return True
