"""All of a command's outputs checked before it computes anything: one function, :func:`check_outputs`.

For every planned output: a known format (``-o out.xyz`` is refused, not turned into a
folder), no path named twice (``-o x.nii.gz --reference x.nii.gz``) or equal to an input,
nothing existing replaced without ``--overwrite`` (every existing output is named at once),
a folder that exists or can be created and is writable, and enough free disk for the
estimated sizes. Inside a command (:func:`.atomic.atomic_group`) the checked files are held
back and appear together at its end, or not at all.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from LowDoseRobustnessLib.contract import TABLE_FORMATS, VOLUME_FORMATS
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.atomic import PARTIAL_PREFIX, claim

FOLDER = "folder"
FILE_FORMATS = (*VOLUME_FORMATS, *TABLE_FORMATS, ".json", ".html")
"""Names that are files: a folder output called ``x.nii.gz`` is a mistake."""
DISK_MARGIN_BYTES = 16 * 2**20
"""Free space kept beyond the estimate (file-system metadata, temporary files)."""


@dataclass(frozen=True)
class Output:
    """One planned output: a file with one of ``formats`` (suffixes) or, with ``formats=FOLDER``, a folder.

    ``option`` names it in messages (``-o``, ``--reference``); ``size_bytes`` is the estimate
    compared with the free disk space. A folder output must be new or empty unless
    ``overwrite``; ``reusable`` folders (a study's, which holds its own manifest) are only
    checked for being folders and writable.
    """

    path: Path
    formats: Sequence[str] | str
    option: str = "-o"
    size_bytes: int = 0
    reusable: bool = False


def check_outputs(outputs: Iterable[Output], overwrite: bool = False, inputs: Iterable[str | Path] = ()) -> None:
    """Refuse now what would fail or destroy something later (see the module docstring); claim the files."""
    outputs = [Output(Path(o.path), o.formats, o.option, o.size_bytes, o.reusable) for o in outputs]
    _check_formats(outputs)
    _check_distinct(outputs, [Path(p) for p in inputs])
    _check_kinds_and_existing(outputs, overwrite)
    _check_writable_and_space(outputs)
    claim(o.path for o in outputs if o.formats != FOLDER)


def _check_formats(outputs: list[Output]) -> None:
    for output in outputs:
        if output.formats == FOLDER:
            if output.path.name.lower().endswith(FILE_FORMATS):
                raise InputError(f"{output.option} {output.path}: a folder is needed here, not a file name")
            continue
        if not output.path.name.lower().endswith(tuple(output.formats)):
            raise InputError(f"{output.option} {output.path}: unknown format; the file name must end with "
                             f"{' or '.join(output.formats)}")


def _check_distinct(outputs: list[Output], inputs: list[Path]) -> None:
    seen: dict[Path, Output] = {}
    for output in outputs:
        key = _resolved(output.path)
        if key in seen:
            raise InputError(f"{seen[key].option} and {output.option} both name {output.path}; give each output "
                             "its own file")
        seen[key] = output
    for path in inputs:
        key = _resolved(path)
        clash = seen.get(key)
        if clash is not None:
            raise InputError(f"{clash.option} {clash.path} is also an input; choose another output name")


def _check_kinds_and_existing(outputs: list[Output], overwrite: bool) -> None:
    existing = []
    for output in outputs:
        path = output.path
        if output.formats == FOLDER:
            if path.exists() and not path.is_dir():
                raise InputError(f"{output.option} {path} is a file; a folder is needed")
            if path.is_dir() and not output.reusable and not overwrite and any(path.iterdir()):
                existing.append(f"{path}{os.sep} (not empty)")
        elif path.is_dir():
            raise InputError(f"{output.option} {path} is a folder; a file name is needed")
        elif path.exists() and not overwrite:
            existing.append(str(path))
    if existing:
        raise FileExistsError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                              "pass --overwrite to replace")


def _check_writable_and_space(outputs: list[Output]) -> None:
    needed: dict[int, tuple[Path, int]] = {}
    for output in outputs:
        folder = output.path if output.formats == FOLDER else output.path.parent
        anchor = _nearest_existing(folder)
        if not anchor.is_dir():
            raise InputError(f"{output.option} {output.path}: {anchor} is a file, so no folder can be made there")
        _probe_writable(anchor, output)
        device = anchor.stat().st_dev
        first, total = needed.get(device, (anchor, 0))
        needed[device] = (first, total + output.size_bytes)
    for anchor, total in needed.values():
        free = shutil.disk_usage(anchor).free
        if total + DISK_MARGIN_BYTES > free:
            raise InputError(f"the outputs need about {_size(total)} but only {_size(free)} is free on the disk "
                             f"holding {anchor}; free some space or write elsewhere")


def _probe_writable(folder: Path, output: Output) -> None:
    """Create and remove a temporary file: the real test (permissions, read-only file systems, root or not)."""
    try:
        descriptor, name = tempfile.mkstemp(prefix=PARTIAL_PREFIX + "probe-", dir=folder)
    except OSError as error:
        raise InputError(f"{output.option} {output.path}: cannot write in {folder} "
                         f"({error.strerror or error})") from None
    os.close(descriptor)
    os.unlink(name)


def _nearest_existing(folder: Path) -> Path:
    folder = Path(os.path.abspath(folder))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _size(size_bytes: float) -> str:
    return f"{size_bytes / 2**30:.1f} GiB" if size_bytes >= 2**30 else f"{size_bytes / 2**20:.0f} MiB"
