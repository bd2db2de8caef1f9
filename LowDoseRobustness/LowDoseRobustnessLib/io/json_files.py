"""Reading the small JSON files users hand over (label names, label groups, model configs): errors in one line."""
from __future__ import annotations

import json
from pathlib import Path

from LowDoseRobustnessLib.errors import InputError


def read_json(path: str | Path, what: str):
    """The parsed content of ``path``; :class:`InputError` naming ``what`` and the place of a syntax error."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{what} {path} is not a UTF-8 text file") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{what} {path} is not valid JSON (line {error.lineno}, column {error.colno}: "
                         f"{error.msg})") from None


def read_label_value_names(path: str | Path, what: str = "label names file") -> dict[int, str]:
    """``{"1": "spleen", ...}`` from ``path`` as {1: "spleen"}; keys must be label values (whole numbers >= 0).

    Background (0), when listed, is left out.
    """
    content = read_json(path, what)
    if not isinstance(content, dict):
        raise InputError(f"{what} {path} must hold an object {{\"1\": \"name\", ...}}, not a {type(content).__name__}")
    names = {}
    for key, name in content.items():
        try:
            value = int(key)
        except ValueError:
            raise InputError(f"{what} {path}: key {key!r} is not a label value (a whole number)") from None
        if value < 0:
            raise InputError(f"{what} {path}: label value {value} is negative; labels are 0 (background) or more")
        if value > 0:
            names[value] = str(name)
    return names
