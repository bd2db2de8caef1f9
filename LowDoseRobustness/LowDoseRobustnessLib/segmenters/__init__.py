"""Segmentation models behind one protocol (:class:`base.Segmenter`), chosen by a spec string.

``get_segmenter("builtin")``, ``"totalsegmentator:total_fast"``, ``"nnunet:/models/Dataset003_Liver/..."``,
``"monai:/models/swin/config.json"``. Adding a segmenter: one module with its class plus one line in
:data:`SEGMENTERS`. Heavy libraries (torch, nnunetv2, monai, totalsegmentator) load only when used.
"""
from __future__ import annotations

import inspect
from importlib import import_module

from ..volume import InputError
from .base import Segmentation, Segmenter

# kind -> (module:class, what follows "kind:" in a spec, or None when nothing may follow)
SEGMENTERS = {
    "builtin": ("builtin:BuiltinSegmenter", "[CHECKPOINT]"),
    "totalsegmentator": ("totalsegmentator:TotalSegmentatorSegmenter", "[TASK, e.g. total_fast]"),
    "nnunet": ("nnunet:NnUNetSegmenter", "MODEL_FOLDER"),
    "monai": ("monai:MonaiSegmenter", "CONFIG.json|yaml"),
}


def segmenter_class(kind: str) -> type:
    """The class registered for ``kind``; InputError naming the choices or the missing package."""
    if kind not in SEGMENTERS:
        raise InputError(f"unknown segmenter {kind!r}; choose one of {', '.join(spec_usage())}")
    module_name, class_name = SEGMENTERS[kind][0].split(":")
    try:
        return getattr(import_module(f"{__package__}.{module_name}"), class_name)
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
        raise InputError(f"segmenter {kind!r} needs an argument: {kind}:{SEGMENTERS[kind][1]}")
    return cls(argument, **options) if argument else cls(**options)


def spec_usage() -> list[str]:
    """``kind:ARGUMENT`` forms for help texts."""
    return [f"{kind}:{argument}" for kind, (_, argument) in SEGMENTERS.items()]


__all__ = ["SEGMENTERS", "Segmentation", "Segmenter", "get_segmenter", "segmenter_class", "spec_usage"]
