"""Segmentation models behind one protocol (:class:`base.Segmenter`), chosen by a spec string.

``get_segmenter("builtin")``, ``"totalsegmentator:total_fast"``, ``"nnunet:/models/Dataset003_Liver/..."``,
``"monai:/models/swin/config.json"``. Adding a segmenter: one module with its class plus one line in
:data:`.contract.SEGMENTERS`. Heavy libraries (torch, nnunetv2, monai, totalsegmentator) load only when used.
"""
from __future__ import annotations

import inspect

from LowDoseRobustnessLib.contract import SEGMENTER_ARGUMENTS, SEGMENTERS, model_usage
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.segmenters.base import Segmentation, Segmenter


def segmenter_class(kind: str) -> type:
    """The class registered for ``kind``; InputError naming the choices or the missing package."""
    if kind not in SEGMENTERS:
        raise InputError(f"unknown segmenter {kind!r}; choose one of {', '.join(model_usage())}")
    try:
        return SEGMENTERS.load(kind)
    except ImportError as error:
        raise InputError(f"segmenter {kind!r} needs the Python package {error.name!r}: "
                         "pip install 'lowdose-robustness[segmenters]'") from None


def get_segmenter(spec: str, **options) -> Segmenter:
    """A ready segmenter for ``"kind[:argument]"``; ``options`` are keyword arguments of its class."""
    kind, _, argument = spec.partition(":")
    cls = segmenter_class(kind)
    parameters = inspect.signature(cls).parameters
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        raise InputError(f"segmenter {kind!r} takes no option {', '.join(unknown)}")
    first = next(iter(parameters.values()))
    if not argument and first.default is inspect.Parameter.empty:
        raise InputError(f"segmenter {kind!r} needs an argument: {kind}:{SEGMENTER_ARGUMENTS[kind]}")
    return cls(argument, **options) if argument else cls(**options)


__all__ = ["Segmentation", "Segmenter", "get_segmenter", "segmenter_class"]
