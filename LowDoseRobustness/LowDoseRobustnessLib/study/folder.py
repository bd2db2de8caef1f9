"""A study folder: created or recognised by its engine manifest, never taken over from someone else.

Standard library only: the Slicer module opens the folder in its own process (to export its
inputs into ``inputs/``) before the engine runs there.
"""
from __future__ import annotations

import json
from pathlib import Path

from LowDoseRobustnessLib import __version__
from LowDoseRobustnessLib.contract import StudyLayout
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.atomic import atomic_write_text

ENGINE = "lowdose-robustness"
FOLDER_FORMAT = 1


def read_manifest(root: str | Path) -> dict | None:
    """The engine manifest of a study folder, or None when the folder holds none."""
    path = StudyLayout(root).manifest
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"{path} is not a readable study manifest ({error}); it was not written by lowdose") from None
    if not isinstance(manifest, dict) or manifest.get("engine") != ENGINE:
        raise InputError(f"{path} was not written by the lowdose study engine; choose another folder")
    return manifest


def open_study_folder(root: str | Path) -> StudyLayout:
    """The layout of ``root``: a new or empty folder becomes a study folder; an existing study is reused.

    A folder that holds other files but no engine manifest is refused: the engine never
    writes into, deletes or overwrites files it did not write.
    """
    layout = StudyLayout(Path(root).expanduser().resolve())
    if layout.root.exists() and not layout.root.is_dir():
        raise InputError(f"{layout.root} is a file; the study output must be a folder")
    if read_manifest(layout.root) is not None:
        return layout
    if layout.root.is_dir() and any(layout.root.iterdir()):
        raise InputError(f"{layout.root} is not empty and holds no lowdose study (no {layout.manifest.name}); "
                         "choose an empty or new folder")
    layout.root.mkdir(parents=True, exist_ok=True)
    write_manifest(layout, {})
    return layout


def write_manifest(layout: StudyLayout, content: dict) -> None:
    """Write ``study.json``: the engine's mark on the folder plus ``content`` (settings, cases, last request)."""
    manifest = {"engine": ENGINE, "format": FOLDER_FORMAT, "version": __version__, **content}
    atomic_write_text(layout.manifest, json.dumps(manifest, indent=1), overwrite=True)


def remove_stale_temporaries(layout: StudyLayout) -> int:
    """Delete the engine's ``.partial-<pid>-...`` files of processes that no longer run; returns how many."""
    from LowDoseRobustnessLib.io.atomic import PARTIAL_PREFIX
    from LowDoseRobustnessLib.study.lock import process_alive

    removed = 0
    for path in layout.root.rglob(f"{PARTIAL_PREFIX}*"):
        if path.is_relative_to(layout.inputs):
            continue
        pid = path.name[len(PARTIAL_PREFIX):].partition("-")[0]
        if pid.isdigit() and not process_alive(int(pid)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
