"""Python packages the ``lowdose`` commands need inside Slicer's Python, behind one small interface.

Nothing is installed without asking: :func:`ensure` lists what is missing, calls
``confirm(message)`` and only then ``pip_install(spec)`` (``slicer.util.pip_install``
in Slicer). torch is never upgraded: when Slicer already has it (e.g. from the PyTorch
extension) it is left alone; otherwise the CPU wheel is installed first, so later
packages see it as satisfied.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable, Optional, Sequence


@dataclass(frozen=True)
class Requirement:
    module: str          # import name
    pip: str             # what to pass to pip install
    why: str             # shown to the user


TORCH_CPU = Requirement("torch", "torch --index-url https://download.pytorch.org/whl/cpu",
                        "reconstruction and the built-in model (CPU build)")
CORE = (
    TORCH_CPU,
    Requirement("scipy", "scipy>=1.10", "sparse projectors and filters"),
    Requirement("astra", "astra-toolbox>=2.5", "fan-beam projector (CPU)"),
)
SEGMENTERS = {
    "totalsegmentator": Requirement("totalsegmentator", "TotalSegmentator>=2.4", "TotalSegmentator models"),
    "nnunet": Requirement("nnunetv2", "nnunetv2>=2.5", "nnU-Net models"),
    "monai": Requirement("monai", "monai>=1.4", "MONAI bundles"),
}
SYNTHETIC = (Requirement("scipy", "scipy>=1.10", "label-map smoothing and textures"),)


def requirements_for(model: str = "builtin", simulate: bool = True) -> list[Requirement]:
    """What a study with ``model`` (``builtin``, ``totalsegmentator[:TASK]``, ``nnunet:PATH``, ``monai:CONFIG``) needs."""
    needed = list(CORE) if simulate else [TORCH_CPU]
    family = str(model).split(":", 1)[0].strip().lower()
    if family in SEGMENTERS:
        needed.append(SEGMENTERS[family])
    return needed


def missing(requirements: Sequence[Requirement]) -> list[Requirement]:
    """The requirements that cannot be imported here (checked without importing them)."""
    return [r for r in requirements if importlib.util.find_spec(r.module) is None]


def ensure(requirements: Sequence[Requirement], confirm: Callable[[str], bool],
           pip_install: Callable[[str], None], log: Optional[Callable[[str], None]] = None) -> bool:
    """Install what is missing after the user agreed; False when the user declined."""
    absent = missing(requirements)
    if not absent:
        return True
    lines = "\n".join(f"  {r.pip.split()[0]}  ({r.why})" for r in absent)
    if not confirm(f"LowDoseRobustness needs these Python packages, which are not installed in Slicer:\n{lines}\n\n"
                   "Install them now? This may take several minutes and needs an internet connection."):
        return False
    for requirement in sorted(absent, key=lambda r: r.pip.split()[0] != "torch"):  # torch first: nothing upgrades it
        if log:
            log(f"installing {requirement.pip}")
        pip_install(requirement.pip)
    still = missing(absent)
    if still:
        raise RuntimeError("could not install " + ", ".join(r.pip.split()[0] for r in still) +
                           "; see the Python console for pip's messages")
    return True
