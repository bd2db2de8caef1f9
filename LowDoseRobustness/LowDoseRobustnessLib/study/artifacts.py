"""Engine artifacts and their manifests: the manifest is the commit marker.

An artifact is one or more files written together (a segmentation and its label names; a
metrics table and its disagreement map) at :class:`.contract.StudyLayout` paths. Beside its
main file lies a small JSON manifest (:func:`.contract.artifact_manifest`)::

    {"key": "<sha256 of the recipe>", "recipe": {...}, "files": {"dose_020.nii.gz": 123456},
     "engine_version": "0.2.0", "written": "2025-01-01T12:00:00+00:00"}

Writing order: the old manifest is removed, the files are written atomically, the
manifest is written last. So an artifact is finished exactly when its manifest exists,
holds the expected key, and every file it lists exists with the recorded size; anything
else (interrupted, stale, edited by hand) is recomputed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from LowDoseRobustnessLib import __version__
from LowDoseRobustnessLib.contract import artifact_manifest
from LowDoseRobustnessLib.io.atomic import atomic_write_text


@dataclass(frozen=True)
class Artifact:
    """Files written together (``path`` first) and the key of the recipe that produces them."""

    path: Path
    key: str
    recipe: dict
    companions: tuple[Path, ...] = ()

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.path, *self.companions)

    @property
    def manifest(self) -> Path:
        return artifact_manifest(self.path)

    def is_finished(self) -> bool:
        """True when the manifest holds this key and every listed file exists with its recorded size."""
        try:
            manifest = json.loads(self.manifest.read_text(encoding="utf-8"))
            sizes = manifest["files"]
            return (manifest["key"] == self.key and set(sizes) == {f.name for f in self.files}
                    and all(f.stat().st_size == sizes[f.name] for f in self.files))
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def open(self) -> None:
        """Before (re)writing the files: remove the manifest, so a half-done rewrite is never taken as finished."""
        self.manifest.unlink(missing_ok=True)

    def commit(self) -> None:
        """After all files are written: the manifest with the key, the recipe and the file sizes."""
        manifest = {"key": self.key, "recipe": self.recipe,
                    "files": {f.name: f.stat().st_size for f in self.files},
                    "engine_version": __version__, "written": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        atomic_write_text(self.manifest, json.dumps(manifest, indent=1), overwrite=True)
