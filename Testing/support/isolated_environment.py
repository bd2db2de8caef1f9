"""A Python environment holding exactly some distributions, built offline from this interpreter's site-packages.

A folder of symbolic links to the distributions' top-level packages and ``.dist-info`` folders,
used with ``python -I -S`` (no site-packages, no environment variables) and the folder added as
the site-packages folder (after the standard library, ``.pth`` files read): anything not linked
cannot be imported. :func:`requirement_closure` adds what pip
installs along with a distribution (its ``Requires-Dist`` without extras, recursively), read from
the installed distributions' own metadata.
"""
from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Iterable

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def requirement_closure(names: Iterable[str], provided: Iterable[str] = ()) -> set[str]:
    """Canonical names of ``names`` and everything they require, less ``provided`` (and what only it needs)."""
    provided = {canonicalize_name(n) for n in provided}
    found, pending = set(), [canonicalize_name(n) for n in names]
    while pending:
        name = pending.pop()
        if name in found or name in provided:
            continue
        found.add(name)
        for text in importlib.metadata.distribution(name).requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(canonicalize_name(requirement.name))
    return found


def top_level_entries(name: str) -> set[str]:
    """The names a distribution installs directly in site-packages (packages, modules, ``.libs``, ``.dist-info``)."""
    distribution = importlib.metadata.distribution(name)
    if distribution.files is None:
        raise RuntimeError(f"{name} lists no files (no RECORD); cannot link it")
    return {file.parts[0] for file in distribution.files if file.parts[0] not in ("..", "__pycache__")}


def link_environment(folder: Path, distributions: Iterable[str]) -> Path:
    """``folder`` filled with links to exactly ``distributions`` (canonical or PyPI names); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in distributions:
        site = Path(importlib.metadata.distribution(name).locate_file(""))
        for entry in top_level_entries(name):
            target = folder / entry
            if (site / entry).exists() and not target.exists():
                target.symlink_to(site / entry)
    return folder


def isolated(command: list[str], environment: Path) -> list[str]:
    """``[python, "-c", CODE, *ARGS]`` run with ``environment`` as its only site-packages (``-I -S``)."""
    python, option, code, *arguments = command
    assert option == "-c", command
    return [python, "-I", "-S", "-c", f"import site; site.addsitedir({str(environment)!r}); {code}", *arguments]
